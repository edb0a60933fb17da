//! The votemesh services, listed once, and the one way to start them.
//!
//! The [`services!`] list below names every service that runs between the registry and the
//! edge. From it come the per-service subcommands ([`ServiceCommand`]), the [`Services`] a
//! caller asks [`spawn`] to start and the [`InstanceUrls`] it gets back. `votemesh up`,
//! `votemesh <service>`, the load generator and the acceptance suite all start services
//! here, so adding a service is one entry in the list plus its crate.
#![forbid(unsafe_code)]

mod plan;
mod service;
mod spawn;

use kit::{config::CommonArgs, shutdown::Shutdown};

pub use plan::{Database, Plan};
pub use service::Service;
pub use spawn::{spawn, unchanged, Configure, Instances, Running};

use spawn::Starter;

/// Generates, from the services between the registry and the edge (each as
/// `field: Subcommand => crate`): their [`Service`] impls, [`ServiceCommand`], [`Services`],
/// [`InstanceUrls`] and their start in list order.
macro_rules! services {
    ($($(#[$doc:meta])* $field:ident: $variant:ident => $krate:ident,)*) => {
        service::impl_service!(registry, "registry");
        $(service::impl_service!($krate, stringify!($field));)*
        service::impl_service!(edge, "edge");

        /// One service in this process: `votemesh registry`, `votemesh user`, ….
        #[derive(clap::Subcommand)]
        pub enum ServiceCommand {
            /// Runs the registry.
            Registry(registry::Config),
            $($(#[$doc])* $variant($krate::Config),)*
            /// Runs the edge.
            Edge(edge::Config),
        }

        impl ServiceCommand {
            /// The settings every service has, e.g. its log format.
            pub fn common(&self) -> &CommonArgs {
                match self {
                    Self::Registry(config) => &config.common,
                    $(Self::$variant(config) => &config.common,)*
                    Self::Edge(config) => &config.common,
                }
            }

            /// Builds the service and serves it until `shutdown` fires.
            pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
                match self {
                    Self::Registry(config) => service::serve(config, shutdown).await,
                    $(Self::$variant(config) => service::serve(config, shutdown).await,)*
                    Self::Edge(config) => service::serve(config, shutdown).await,
                }
            }
        }

        /// What [`spawn`] starts: the registry, each service's instances and the edge, and
        /// what to change in each config.
        pub struct Services {
            pub registry: Configure<registry::Config>,
            $(pub $field: Instances<$krate::Config>,)*
            pub edge: Configure<edge::Config>,
        }

        impl Default for Services {
            /// The registry and the edge, with no instance of any other service.
            fn default() -> Self {
                Self {
                    registry: unchanged(),
                    $($field: Instances::none(),)*
                    edge: unchanged(),
                }
            }
        }

        impl Services {
            /// One instance of every service: the whole system, as `votemesh up` runs it.
            pub fn one_each() -> Self {
                Self {
                    $($field: Instances::one(),)*
                    ..Self::default()
                }
            }
        }

        /// The URLs of each service's instances, in start order.
        #[derive(Clone, Debug, Default)]
        pub struct InstanceUrls {
            $(pub $field: Vec<String>,)*
        }

        impl InstanceUrls {
            /// Each service's registered name with its instances' URLs.
            pub fn by_service(&self) -> Vec<(&'static str, &[String])> {
                vec![$((<$krate::Config as Service>::SERVICE_NAME, self.$field.as_slice()),)*]
            }
        }

        async fn start_listed(
            starter: &mut Starter<'_>,
            services: &Services,
        ) -> anyhow::Result<InstanceUrls> {
            Ok(InstanceUrls {
                $($field: starter.instances(&services.$field).await?,)*
            })
        }
    };
}

services! {
    /// Runs svc-user: accounts, sign-in, tokens and roles.
    user: User => svc_user,
    /// Runs svc-candidate: elections, candidates and voter rolls.
    candidate: Candidate => svc_candidate,
    /// Runs svc-voting: casts ballots.
    voting: Voting => svc_voting,
    /// Runs svc-result: counts ballots and serves live results.
    result: Result => svc_result,
    /// Runs svc-notify: email and SMS, each sent once.
    notify: Notify => svc_notify,
}
