//! Typed clients of the votemesh services, in one place: one client type per service the
//! mesh calls, each on the same stack ([`Upstream`]: a live instance from the registry, the
//! internal token, the configured timeout, call metrics) and each answering with
//! `ServiceError` through the one reverse mapping in `kit::error`.
#![forbid(unsafe_code)]

/// A typed client: a newtype over [`Upstream`] for the service the generated `SERVICE_NAME`
/// names, following its live instances through the registry.
#[macro_export]
#[doc(hidden)]
macro_rules! typed_client {
    ($name:ident, $service:path, $client:ident) => {
        #[derive(Clone)]
        pub struct $name($crate::Upstream);

        impl $name {
            pub const SERVICE: &'static str = $service;

            /// One call through the shared stack, made by the generated client on the
            /// instance picked for it.
            async fn rpc<T, F, Fut>(
                &self,
                rpc: &'static str,
                call: F,
            ) -> Result<T, kit::ServiceError>
            where
                F: FnOnce($client<$crate::upstream::Channel>) -> Fut,
                Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
            {
                self.0
                    .call(rpc, |channel| call($client::new(channel)))
                    .await
            }

            pub fn watch(
                registry: &kit::internal::RegistryClient,
                common: &kit::config::CommonArgs,
            ) -> anyhow::Result<Self> {
                $crate::Upstream::watch(registry, $service, common).map(Self)
            }

            /// Over a set of instances the caller already follows (or fixed, in tests).
            pub fn new(
                instances: kit::discovery::Balanced,
                common: &kit::config::CommonArgs,
            ) -> anyhow::Result<Self> {
                anyhow::ensure!(
                    instances.service() == $service,
                    "a {} needs {} instances, not {}",
                    stringify!($name),
                    $service,
                    instances.service()
                );
                $crate::Upstream::new(instances, common).map(Self)
            }
        }
    };
}

mod accounts;
mod election;
mod keys;
pub mod upstream;
mod user;
mod voting;

pub use accounts::RemoteAccounts;
pub use election::{question_of, questions_of, ElectionClient};
pub use keys::{token_verifier, RemoteKeys};
pub use upstream::Upstream;
pub use user::UserClient;
pub use voting::VotingClient;
