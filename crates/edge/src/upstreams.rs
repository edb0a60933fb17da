//! Balanced channels to each upstream gRPC service, found through the registry.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use kit::{discovery::Balanced, internal::RegistryClient};
use tonic::transport::Channel;

pub struct Upstreams {
    registry: RegistryClient,
    timeout: Duration,
    services: Mutex<HashMap<String, Balanced>>,
}

impl Upstreams {
    pub fn new(registry: RegistryClient, timeout: Duration) -> Self {
        Self {
            registry,
            timeout,
            services: Mutex::new(HashMap::new()),
        }
    }

    /// Starts following `service` now, so the first request finds it ready.
    pub fn follow(&self, service: &str) -> Balanced {
        let mut services = self.services.lock().unwrap_or_else(|p| p.into_inner());
        services
            .entry(service.to_owned())
            .or_insert_with(|| Balanced::watch(self.registry.clone(), service, self.timeout))
            .clone()
    }

    /// A channel to a live instance of `service`, or `None` when it has none.
    pub async fn pick(&self, service: &str) -> Option<Channel> {
        self.follow(service).pick_within(self.timeout).await
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}
