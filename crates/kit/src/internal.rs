//! Service-to-service calls: channels with timeouts everywhere, the internal token, and the
//! caller a service hands on under it.

use std::{str::FromStr, time::Duration};

use proto_gen::registry::v1::registry_service_client::RegistryServiceClient;
use tonic::{
    metadata::{Ascii, MetadataMap, MetadataValue},
    service::{interceptor::InterceptedService, Interceptor},
    transport::Endpoint,
    Request, Status,
};

use crate::{
    auth::{Caller, CALLER_HEADER, INTERNAL_TOKEN_HEADER},
    failover::Failover,
    ServiceError,
};

/// Adds the shared service secret to every outgoing call.
#[derive(Clone)]
pub struct InternalToken(MetadataValue<Ascii>);

impl InternalToken {
    pub fn new(token: &str) -> anyhow::Result<Self> {
        Ok(Self(MetadataValue::from_str(token).map_err(|_| {
            anyhow::anyhow!("internal token must be printable ASCII")
        })?))
    }
}

impl InternalToken {
    /// Marks a call as made for `caller`, whom this process has verified and whose account
    /// it has confirmed: the token vouches for the caller header, so the next service neither
    /// verifies the bearer token again nor asks svc-user again.
    pub fn hand_on(&self, caller: &Caller, metadata: &mut MetadataMap) -> Result<(), ServiceError> {
        let value = MetadataValue::from_str(&caller.to_header()).map_err(|_| {
            ServiceError::Unauthenticated("the caller's user id cannot be handed on".into())
        })?;
        metadata.insert(INTERNAL_TOKEN_HEADER, self.0.clone());
        metadata.insert(CALLER_HEADER, value);
        Ok(())
    }
}

impl Interceptor for InternalToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert(INTERNAL_TOKEN_HEADER, self.0.clone());
        Ok(request)
    }
}

/// An endpoint that never waits forever: connect and request timeouts, HTTP/2 keepalive.
pub fn endpoint(address: &str, timeout: Duration) -> anyhow::Result<Endpoint> {
    Ok(Endpoint::from_shared(address.to_owned())?
        .connect_timeout(timeout.min(Duration::from_secs(3)))
        .timeout(timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true))
}

pub type RegistryClient = RegistryServiceClient<InterceptedService<Failover, InternalToken>>;

/// The registry client a service needs to find its peers; `who` names the service in the
/// error when no registry is configured.
pub fn registry_for(
    common: &crate::config::CommonArgs,
    who: &str,
) -> anyhow::Result<RegistryClient> {
    let url = common.registry_url.as_deref().ok_or_else(|| {
        anyhow::anyhow!("{who} needs --registry-url to find the services it calls")
    })?;
    registry_client(url, &common.internal_token, common.upstream_timeout())
}

/// A lazily connecting registry client that carries the internal token. `urls` names one
/// registry or, comma-separated, several replicas sharing one store: calls go to one until it
/// cannot be reached, then to the next ([`Failover`]), so losing replicas loses nothing while
/// one answers.
pub fn registry_client(
    urls: &str,
    token: &str,
    timeout: Duration,
) -> anyhow::Result<RegistryClient> {
    let endpoints = urls
        .split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(|url| endpoint(url, timeout))
        .collect::<anyhow::Result<Vec<Endpoint>>>()?;
    if endpoints.is_empty() {
        anyhow::bail!("--registry-url: no address given");
    }
    let channel = Failover::new(endpoints.iter().map(Endpoint::connect_lazy).collect());
    Ok(RegistryServiceClient::with_interceptor(
        channel,
        InternalToken::new(token)?,
    ))
}
