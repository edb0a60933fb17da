//! Settings every service shares, read from flags or `VOTEMESH_*` env through clap, so a
//! test builds them with `try_parse_from` instead of touching the process environment.

use std::{net::SocketAddr, time::Duration};

/// Human-readable or JSON logs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags and env shared by every service.
#[derive(clap::Args, Clone, Debug)]
pub struct CommonArgs {
    /// Address the gRPC server binds; port 0 picks a free one.
    #[arg(long, env = "VOTEMESH_LISTEN", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Host other services use to reach this one, as registered.
    #[arg(long, env = "VOTEMESH_ADVERTISE_HOST", default_value = "127.0.0.1")]
    pub advertise_host: String,
    /// Address of the Prometheus `/metrics` listener; unset disables it.
    #[arg(long, env = "VOTEMESH_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Registry URL, e.g. `http://127.0.0.1:7000`; unset skips registration.
    #[arg(long, env = "VOTEMESH_REGISTRY_URL")]
    pub registry_url: Option<String>,
    /// Shared secret that authorizes service-to-service (internal) calls.
    #[arg(long, env = "VOTEMESH_INTERNAL_TOKEN", hide_env_values = true)]
    pub internal_token: String,
    /// Log format.
    #[arg(long, env = "VOTEMESH_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Seconds to let in-flight calls finish after SIGTERM.
    #[arg(long, env = "VOTEMESH_DRAIN_SECONDS", default_value_t = 10)]
    pub drain_seconds: u64,
    /// Lease length requested from the registry.
    #[arg(long, env = "VOTEMESH_LEASE_TTL_SECONDS", default_value_t = 10)]
    pub lease_ttl_seconds: u32,
    /// Timeout for every call to another service, in milliseconds.
    #[arg(long, env = "VOTEMESH_UPSTREAM_TIMEOUT_MS", default_value_t = 5000)]
    pub upstream_timeout_ms: u64,
    /// Expected `iss` of access tokens.
    #[arg(long, env = "VOTEMESH_JWT_ISSUER", default_value = "votemesh")]
    pub jwt_issuer: String,
    /// Expected `aud` of access tokens.
    #[arg(long, env = "VOTEMESH_JWT_AUDIENCE", default_value = "votemesh")]
    pub jwt_audience: String,
}

impl CommonArgs {
    /// Settings for an in-process service (the launcher and tests) with the given secret.
    pub fn local(internal_token: &str, registry_url: Option<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise_host: "127.0.0.1".into(),
            metrics_listen: None,
            registry_url,
            internal_token: internal_token.into(),
            log_format: LogFormat::Text,
            drain_seconds: 10,
            lease_ttl_seconds: 10,
            upstream_timeout_ms: 5000,
            jwt_issuer: "votemesh".into(),
            jwt_audience: "votemesh".into(),
        }
    }

    pub fn drain_deadline(&self) -> Duration {
        Duration::from_secs(self.drain_seconds)
    }

    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }

    pub fn token_expectations(&self) -> crate::auth::Expectations {
        crate::auth::Expectations {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn flags_parse_without_touching_env() {
        let cli = Cli::try_parse_from([
            "svc",
            "--listen",
            "127.0.0.1:7001",
            "--internal-token",
            "s3cret",
            "--log-format",
            "json",
        ])
        .expect("valid flags");
        assert_eq!(cli.common.listen.port(), 7001);
        assert_eq!(cli.common.log_format, LogFormat::Json);
        assert_eq!(cli.common.lease_ttl_seconds, 10);
    }

    #[test]
    fn a_bad_address_is_refused() {
        let parsed = Cli::try_parse_from(["svc", "--listen", "nope", "--internal-token", "x"]);
        assert!(parsed.is_err());
    }
}
