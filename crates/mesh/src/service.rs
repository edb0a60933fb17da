//! What the mesh needs from a service crate: the shape every service shares, a clap `Config`
//! with one source for each default, `App::build(config, listener)`, `url()` and
//! `run_until_stopped(shutdown)`.

use std::future::Future;

use kit::shutdown::Shutdown;

/// A service, named by its config type.
pub trait Service: clap::Args + clap::FromArgMatches + Send + 'static {
    type App: Send + 'static;
    /// The short name: the subcommand, the SQLite file in a data directory, the logs.
    const NAME: &'static str;
    /// The name it registers under.
    const SERVICE_NAME: &'static str;

    /// Binds the configured address and builds the service.
    fn build(self) -> impl Future<Output = anyhow::Result<Self::App>> + Send;

    /// The URL the service is reached by.
    fn url(app: &Self::App) -> String;

    /// Serves until `shutdown` fires, then drains.
    fn run(
        app: Self::App,
        shutdown: Shutdown,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static;
}

/// Implements [`Service`] for `$krate::Config` through the crate's `App`.
macro_rules! impl_service {
    ($krate:ident, $name:expr) => {
        impl $crate::service::Service for $krate::Config {
            type App = $krate::App;
            const NAME: &'static str = $name;
            const SERVICE_NAME: &'static str = $krate::SERVICE_NAME;

            fn build(
                self,
            ) -> impl ::std::future::Future<Output = ::anyhow::Result<Self::App>> + Send {
                async move {
                    let listener = ::kit::server::listen(&self.common).await?;
                    $krate::App::build(self, listener).await
                }
            }

            fn url(app: &Self::App) -> String {
                app.url()
            }

            fn run(
                app: Self::App,
                shutdown: ::kit::shutdown::Shutdown,
            ) -> impl ::std::future::Future<Output = ::anyhow::Result<()>> + Send + 'static {
                app.run_until_stopped(shutdown)
            }
        }
    };
}
pub(crate) use impl_service;

/// Builds one service and serves it until `shutdown` fires: a `votemesh <service>` process.
pub(crate) async fn serve<S: Service>(config: S, shutdown: Shutdown) -> anyhow::Result<()> {
    let app = config.build().await?;
    S::run(app, shutdown).await
}
