//! svc-notify: email over SMTP and SMS over an HTTP gateway, for verification codes, vote
//! confirmations, roll invitations and reminders. Events become rows of a delivery log whose
//! unique (event id, channel) makes every message go out once however often its event is
//! redelivered; a sender works the log with retries, backoff and a dead end admins can see.
#![forbid(unsafe_code)]

pub mod channels;
mod config;
pub mod conformance;
mod consumers;
mod grpc;
mod mask;
mod plan;
mod sender;
pub mod store;
pub mod templates;

use std::{net::SocketAddr, sync::Arc};

use clients::{ElectionClient, UserClient, VotingClient};
use kit::{discovery::Balanced, internal::registry_for, server::GrpcServer, shutdown::Shutdown};
use proto_gen::notify::v1::notify_service_server::NotifyServiceServer;
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use config::{Config, SmsFormat};
pub use proto_gen::notify::v1::notify_service_server::SERVICE_NAME;

use crate::{
    consumers::Consumers,
    grpc::NotifyApi,
    plan::Planner,
    sender::Sender,
    store::{DeliveryStore, SeaDeliveryStore},
};

/// Creates the topics svc-notify reads when they are missing, so its groups can join before
/// the first producer starts.
async fn ensure_topics(config: &Config) -> anyhow::Result<()> {
    let topics = [
        &config.vote_topic,
        &config.contact_topic,
        &config.notification_topic,
    ]
    .map(|topic| (topic.as_str(), config.topic_partitions));
    kit::bus::connect(
        config.kafka_brokers.as_deref(),
        config.common.upstream_timeout(),
        &topics,
    )
    .await?;
    Ok(())
}

/// A bound svc-notify, ready to run.
pub struct App {
    server: GrpcServer,
    consumers: Consumers,
    sender: Sender,
}

impl App {
    /// Builds on a listener the caller bound (the mesh binds `config.common.listen`). Bad
    /// settings fail here, naming the flag, before anything is opened.
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let channels = config.channels()?;
        let templates = Arc::new(config.templates()?);
        let common = &config.common;
        let store: Arc<dyn DeliveryStore> =
            Arc::new(SeaDeliveryStore::open(&config.database_url, config.max_connections).await?);
        ensure_topics(&config).await?;
        let registry = registry_for(common, "svc-notify")?;
        let users = UserClient::watch(&registry, common)?;
        let planner = Arc::new(Planner::new(
            users.clone(),
            ElectionClient::watch(&registry, common)?,
            VotingClient::watch(&registry, common)?,
            templates,
            config.public_url.trim_end_matches('/').to_owned(),
            config.max_attempts,
            channels.sms.is_some(),
        ));
        let wake = Arc::new(tokio::sync::Notify::new());
        let peers = Balanced::watch(registry.clone(), SERVICE_NAME, common.upstream_timeout());
        let consumers = Consumers::new(&config, planner, store.clone(), wake.clone(), peers);
        let sender = Sender::new(store.clone(), channels, config.sending(), wake);
        let verifier = clients::token_verifier(&users, common);
        let routes = Routes::new(NotifyServiceServer::new(NotifyApi {
            store,
            retry_attempts: config.max_attempts,
        }));
        let server = GrpcServer::bind(
            "svc-notify",
            listener,
            common,
            routes,
            vec![SERVICE_NAME],
            verifier,
        )?;
        Ok(Self {
            server,
            consumers,
            sender,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        self.server.advertised_address()
    }

    /// Serves until `shutdown` starts; the consumers stop at a batch boundary and the sender
    /// finishes the messages in flight, within the drain deadline.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        self.consumers.spawn(&shutdown);
        shutdown.spawn("delivery sender", self.sender.run(shutdown.clone()));
        self.server.run_until_stopped(shutdown).await
    }
}
