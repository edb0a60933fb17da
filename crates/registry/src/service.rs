//! The gRPC face of the registry.

use std::{collections::HashMap, pin::Pin, sync::Arc, sync::Mutex, time::Duration};

use futures::{Stream, StreamExt};
use kit::shutdown::Shutdown;
use proto_gen::registry::v1::{
    registry_service_server, DeregisterRequest, DeregisterResponse, HeartbeatRequest,
    HeartbeatResponse, Instance, RegisterRequest, RegisterResponse, ResolveRequest,
    ResolveResponse, WatchRequest, WatchResponse,
};
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;
use tonic::{Request, Response, Status};

use crate::store::RegistryStore;

const MAX_TTL_SECONDS: u32 = 300;

pub struct RegistryService {
    store: Arc<dyn RegistryStore>,
    default_ttl_seconds: u32,
    watchers: Mutex<HashMap<String, watch::Sender<Vec<Instance>>>>,
    shutdown: Shutdown,
}

impl RegistryService {
    pub fn new(
        store: Arc<dyn RegistryStore>,
        default_ttl_seconds: u32,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            store,
            default_ttl_seconds,
            watchers: Mutex::new(HashMap::new()),
            shutdown,
        }
    }

    fn sender(&self, service: &str, initial: Vec<Instance>) -> watch::Sender<Vec<Instance>> {
        let mut watchers = match self.watchers.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        watchers
            .entry(service.to_owned())
            .or_insert_with(|| watch::channel(initial).0)
            .clone()
    }

    /// The services someone watches here.
    fn watched(&self) -> Vec<String> {
        let watchers = match self.watchers.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        watchers.keys().cloned().collect()
    }

    async fn publish(&self, service: &str) {
        let live = match self.store.live(service).await {
            Ok(live) => live,
            Err(error) => {
                tracing::warn!(%error, %service, "watchers not updated");
                return;
            }
        };
        let sender = self.sender(service, live.clone());
        sender.send_if_modified(|current| {
            if *current == live {
                false
            } else {
                *current = live;
                true
            }
        });
    }

    /// Evicts lapsed leases and tells watchers, every `interval` until the shutdown starts.
    /// Every watched service is read again too: with a shared store, other replicas register
    /// and evict instances this one never hears of.
    pub async fn sweep_until_stopped(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = self.shutdown.wait() => return,
            }
            if let Err(error) = self.store.evict_expired().await {
                tracing::warn!(%error, "lapsed leases not swept");
            }
            for service in self.watched() {
                self.publish(&service).await;
            }
        }
    }
}

fn unavailable(error: crate::store::Unavailable) -> Status {
    Status::unavailable(error.to_string())
}

fn required(value: &str, field: &str) -> Result<(), Status> {
    if value.trim().is_empty() {
        return Err(Status::invalid_argument(format!(
            "{field}: must not be empty"
        )));
    }
    Ok(())
}

type WatchStreamOut = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl registry_service_server::RegistryService for RegistryService {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let request = request.into_inner();
        let instance = request
            .instance
            .ok_or_else(|| Status::invalid_argument("instance: required"))?;
        required(&instance.service, "instance.service")?;
        required(&instance.instance_id, "instance.instance_id")?;
        let address_ok =
            instance.address.starts_with("http://") || instance.address.starts_with("https://");
        if !address_ok {
            return Err(Status::invalid_argument(
                "instance.address: must be an http:// or https:// URI",
            ));
        }
        let ttl_seconds = match request.ttl_seconds {
            0 => self.default_ttl_seconds,
            ttl => ttl.min(MAX_TTL_SECONDS),
        };
        let service = instance.service.clone();
        self.store
            .upsert(instance, Duration::from_secs(u64::from(ttl_seconds)))
            .await
            .map_err(unavailable)?;
        self.publish(&service).await;
        Ok(Response::new(RegisterResponse { ttl_seconds }))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let request = request.into_inner();
        if self
            .store
            .renew(&request.service, &request.instance_id)
            .await
            .map_err(unavailable)?
        {
            Ok(Response::new(HeartbeatResponse {}))
        } else {
            Err(Status::not_found(
                "instance_id: no live lease; register again",
            ))
        }
    }

    async fn deregister(
        &self,
        request: Request<DeregisterRequest>,
    ) -> Result<Response<DeregisterResponse>, Status> {
        let request = request.into_inner();
        if self
            .store
            .remove(&request.service, &request.instance_id)
            .await
            .map_err(unavailable)?
        {
            tracing::info!(service = %request.service, instance_id = %request.instance_id, "deregistered");
            self.publish(&request.service).await;
        }
        Ok(Response::new(DeregisterResponse {}))
    }

    async fn resolve(
        &self,
        request: Request<ResolveRequest>,
    ) -> Result<Response<ResolveResponse>, Status> {
        let request = request.into_inner();
        required(&request.service, "service")?;
        Ok(Response::new(ResolveResponse {
            instances: self
                .store
                .live(&request.service)
                .await
                .map_err(unavailable)?,
        }))
    }

    type WatchStream = WatchStreamOut;

    async fn watch(
        &self,
        request: Request<WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let request = request.into_inner();
        required(&request.service, "service")?;
        let live = self
            .store
            .live(&request.service)
            .await
            .map_err(unavailable)?;
        let receiver = self.sender(&request.service, live).subscribe();
        let stream = WatchStream::new(receiver).map(|instances| Ok(WatchResponse { instances }));
        Ok(Response::new(Box::pin(self.shutdown.until_stopped(stream))))
    }
}
