//! What every call passes before it is forwarded: rate limits and the access policy; and how
//! the caller it admitted is handed on, so the service does not check it again.

use std::{net::IpAddr, time::Duration};

use kit::{
    auth::{authorize_user, Caller, TokenVerifier},
    internal::InternalToken,
    policy::MethodRule,
};
use proto_gen::options::v1::{Access, RateClass};
use tonic::{metadata::MetadataMap, Status};

use kit::ratelimit::Buckets;

/// Rate-limit settings, per second with a burst.
#[derive(Clone, Debug)]
pub struct Limits {
    pub per_ip_per_second: f64,
    pub per_ip_burst: f64,
    pub per_user_per_second: f64,
    pub per_user_burst: f64,
    pub credentials_per_minute: f64,
    pub credentials_burst: f64,
    /// Proxies whose X-Forwarded-For names the client.
    pub trusted_proxies: crate::client_address::TrustedProxies,
}

pub enum Denied {
    Limited(Duration),
    Refused(Status),
}

pub struct Gate {
    verifier: TokenVerifier,
    internal_token: InternalToken,
    per_ip: Buckets,
    per_user: Buckets,
    credentials: Buckets,
    proxies: crate::client_address::TrustedProxies,
}

impl Gate {
    pub fn new(verifier: TokenVerifier, internal_token: InternalToken, limits: &Limits) -> Self {
        Self {
            verifier,
            internal_token,
            per_ip: Buckets::new(limits.per_ip_per_second, limits.per_ip_burst),
            per_user: Buckets::new(limits.per_user_per_second, limits.per_user_burst),
            credentials: Buckets::new(
                limits.credentials_per_minute / 60.0,
                limits.credentials_burst,
            ),
            proxies: limits.trusted_proxies.clone(),
        }
    }

    /// Charges the client's buckets, then applies the method's access rule.
    pub async fn admit(
        &self,
        client: Option<IpAddr>,
        rule: &MethodRule,
        headers: &http::HeaderMap,
    ) -> Result<Option<Caller>, Denied> {
        let client_key = client
            .map(|peer| self.proxies.client(peer, headers))
            .map(kit::ratelimit::client_key)
            .unwrap_or_else(|| "unknown".into());
        self.per_ip.take(&client_key).map_err(Denied::Limited)?;
        if rule.rate_class == RateClass::Credentials {
            self.credentials
                .take(&client_key)
                .map_err(Denied::Limited)?;
        }
        if rule.access == Access::Internal {
            return Err(Denied::Refused(Status::permission_denied(
                "internal method: not reachable through the edge",
            )));
        }
        let caller = authorize_user(rule, headers, &self.verifier)
            .await
            .map_err(Denied::Refused)?;
        if let Some(caller) = &caller {
            self.per_user
                .take(&caller.user_id)
                .map_err(Denied::Limited)?;
        }
        Ok(caller)
    }

    /// Puts the admitted caller (signature verified; for signed-in methods, account confirmed)
    /// on the forwarded call under the internal token; the service takes it from there instead
    /// of checking again. Call it after the client's own service headers are stripped.
    pub fn hand_on(&self, caller: &Caller, metadata: &mut MetadataMap) -> Result<(), Status> {
        self.internal_token
            .hand_on(caller, metadata)
            .map_err(Status::from)
    }
}

/// Whole seconds to wait, never zero, for Retry-After.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}
