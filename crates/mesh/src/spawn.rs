//! Starting the mesh in this process: the registry first, then each service's instances in
//! list order, then the edge, each on its own task that stops with the shared shutdown.

use anyhow::Context;
use futures::{stream::FuturesUnordered, StreamExt};
use kit::shutdown::Shutdown;
use tokio::task::JoinHandle;

use crate::{InstanceUrls, Plan, Service, Services};

/// A change to a service's config, made after the plan's wiring.
pub type Configure<C> = Box<dyn Fn(&mut C) + Send + Sync>;

/// The change that changes nothing.
pub fn unchanged<C>() -> Configure<C> {
    Box::new(|_: &mut C| {})
}

/// How many instances of a service to start, and what to change in each one's config.
pub struct Instances<C> {
    pub count: usize,
    pub configure: Configure<C>,
}

impl<C> Default for Instances<C> {
    fn default() -> Self {
        Self::none()
    }
}

impl<C> Instances<C> {
    pub fn none() -> Self {
        Self::many(0)
    }

    pub fn one() -> Self {
        Self::many(1)
    }

    pub fn many(count: usize) -> Self {
        Self {
            count,
            configure: unchanged(),
        }
    }

    /// The same instances, each config changed by `configure`. A closure written inline
    /// names its parameter's type (`|config: &mut svc_voting::Config|`), since the
    /// service is known only from the field the result goes to.
    pub fn configured(self, configure: impl Fn(&mut C) + Send + Sync + 'static) -> Self {
        Self {
            count: self.count,
            configure: Box::new(configure),
        }
    }
}

/// The running mesh. Dropping it leaves the services running until the shutdown fires.
pub struct Running {
    pub registry_url: String,
    pub edge_url: String,
    pub instances: InstanceUrls,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    shutdown: Shutdown,
}

impl Running {
    /// Waits until every service has stopped. The first one to fail stops the rest, and its
    /// error is returned.
    pub async fn stopped(self) -> anyhow::Result<()> {
        let mut tasks: FuturesUnordered<_> = self.tasks.into_iter().collect();
        let mut first_error = None;
        while let Some(joined) = tasks.next().await {
            let outcome = joined
                .map_err(anyhow::Error::from)
                .and_then(|served| served);
            if let Err(error) = outcome {
                tracing::error!(error = format!("{error:#}"), "stopping the rest");
                self.shutdown.trigger();
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Starts `services` on `plan` in this process; each runs until `shutdown` fires. When one
/// fails to start, the shutdown fires so the ones already started stop too.
pub async fn spawn(
    plan: &Plan,
    services: Services,
    shutdown: &Shutdown,
) -> anyhow::Result<Running> {
    plan.database.prepare()?;
    let mut starter = Starter {
        plan,
        registry_url: None,
        shutdown: shutdown.clone(),
        tasks: Vec::new(),
    };
    match start_all(&mut starter, &services).await {
        Ok((registry_url, instances, edge_url)) => Ok(Running {
            registry_url,
            edge_url,
            instances,
            tasks: starter.tasks,
            shutdown: shutdown.clone(),
        }),
        Err(error) => {
            shutdown.trigger();
            Err(error)
        }
    }
}

async fn start_all(
    starter: &mut Starter<'_>,
    services: &Services,
) -> anyhow::Result<(String, InstanceUrls, String)> {
    let registry_url = starter.start(&services.registry).await?;
    starter.registry_url = Some(registry_url.clone());
    let instances = crate::start_listed(starter, services).await?;
    let edge_url = starter.start(&services.edge).await?;
    Ok((registry_url, instances, edge_url))
}

/// Starts services one by one and keeps their tasks.
pub(crate) struct Starter<'a> {
    plan: &'a Plan,
    /// Unset while the registry itself starts.
    registry_url: Option<String>,
    shutdown: Shutdown,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Starter<'_> {
    /// Starts `instances`; returns their URLs.
    pub(crate) async fn instances<S: Service>(
        &mut self,
        instances: &Instances<S>,
    ) -> anyhow::Result<Vec<String>> {
        let mut urls = Vec::with_capacity(instances.count);
        for _ in 0..instances.count {
            urls.push(self.start(&instances.configure).await?);
        }
        Ok(urls)
    }

    /// Starts one instance of `S`; returns its URL.
    async fn start<S: Service>(&mut self, configure: &Configure<S>) -> anyhow::Result<String> {
        let mut config: S = self.plan.config(self.registry_url.as_deref())?;
        configure(&mut config);
        let app = config
            .build()
            .await
            .with_context(|| format!("starting {}", S::NAME))?;
        let url = S::url(&app);
        let run = S::run(app, self.shutdown.clone());
        self.tasks.push(tokio::spawn(async move {
            run.await.with_context(|| format!("{} failed", S::NAME))
        }));
        Ok(url)
    }
}
