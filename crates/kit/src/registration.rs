//! Keeps an instance registered: register, heartbeat well within the lease, register again
//! when the registry has forgotten us (it restarted), deregister on drain. The keep-alive is a
//! drain-tracked task that stops when the shutdown starts.

use std::{collections::HashMap, time::Duration};

use proto_gen::registry::v1::{DeregisterRequest, HeartbeatRequest, Instance, RegisterRequest};
use tokio::task::JoinHandle;
use tonic::Code;

use crate::{internal::RegistryClient, shutdown::Shutdown};

/// One process's registration under one or more service names.
pub struct Registration {
    keep_alive: JoinHandle<()>,
    client: RegistryClient,
    instances: Vec<Instance>,
}

impl Registration {
    /// Registers `address` under every name in `services` and keeps the leases alive until
    /// `shutdown` starts.
    pub fn spawn(
        client: RegistryClient,
        services: &[&str],
        address: String,
        ttl_seconds: u32,
        shutdown: &Shutdown,
    ) -> Self {
        let instance_id = uuid::Uuid::new_v4().to_string();
        let instances: Vec<Instance> = services
            .iter()
            .map(|service| Instance {
                service: (*service).to_owned(),
                instance_id: instance_id.clone(),
                address: address.clone(),
                metadata: HashMap::from([(
                    "version".to_owned(),
                    env!("CARGO_PKG_VERSION").to_owned(),
                )]),
            })
            .collect();
        let keep_alive = shutdown.spawn(
            "registration keep-alive",
            keep_alive(
                client.clone(),
                instances.clone(),
                ttl_seconds,
                shutdown.clone(),
            ),
        );
        Self {
            keep_alive,
            client,
            instances,
        }
    }

    pub fn instance_id(&self) -> &str {
        self.instances
            .first()
            .map(|i| i.instance_id.as_str())
            .unwrap_or_default()
    }

    /// Once the shutdown has started: waits for the heartbeats to stop, then removes the
    /// instance, so callers stop picking it before the drain.
    pub async fn deregister(self) {
        let _ = self.keep_alive.await;
        let mut client = self.client;
        for instance in &self.instances {
            let request = DeregisterRequest {
                service: instance.service.clone(),
                instance_id: instance.instance_id.clone(),
            };
            if let Err(status) = client.deregister(request).await {
                tracing::warn!(service = %instance.service, %status, "deregistration failed; the lease will lapse");
            }
        }
    }
}

async fn keep_alive(
    mut client: RegistryClient,
    instances: Vec<Instance>,
    ttl_seconds: u32,
    shutdown: Shutdown,
) {
    let mut registered = vec![false; instances.len()];
    let mut interval = Duration::from_millis(u64::from(ttl_seconds.max(1)) * 1000 / 3);
    loop {
        for (instance, registered) in instances.iter().zip(registered.iter_mut()) {
            if *registered {
                let beat = HeartbeatRequest {
                    service: instance.service.clone(),
                    instance_id: instance.instance_id.clone(),
                };
                match client.heartbeat(beat).await {
                    Ok(_) => {}
                    Err(status) if status.code() == Code::NotFound => {
                        tracing::info!(service = %instance.service, "registry forgot this instance; registering again");
                        *registered = false;
                    }
                    Err(status) => {
                        tracing::warn!(service = %instance.service, %status, "heartbeat failed")
                    }
                }
            }
            if !*registered {
                let request = RegisterRequest {
                    instance: Some(instance.clone()),
                    ttl_seconds,
                };
                match client.register(request).await {
                    Ok(response) => {
                        let granted = response.into_inner().ttl_seconds.max(1);
                        interval = Duration::from_millis(u64::from(granted) * 1000 / 3);
                        *registered = true;
                        tracing::info!(service = %instance.service, address = %instance.address, "registered");
                    }
                    Err(status) => {
                        tracing::warn!(service = %instance.service, %status, "registration failed; retrying")
                    }
                }
            }
        }
        let pause = if registered.iter().all(|r| *r) {
            interval
        } else {
            interval.min(Duration::from_millis(500))
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.wait() => return,
        }
    }
}
