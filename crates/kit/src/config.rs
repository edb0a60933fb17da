//! Settings every service shares, read from flags or `VOTEMESH_*` env through clap. Each
//! default lives in its `#[arg(default_value…)]` only: in-process services (the launcher,
//! the load generator, tests) get theirs through [`local`], never from a second copy.

use std::{ffi::OsString, net::SocketAddr, time::Duration};

/// Parses `C` from `args` (flags only, no program name) and the defaults its fields declare,
/// ignoring the process environment, so an in-process service is configured exactly as the
/// same flags would configure its binary.
pub fn local<C, I, T>(args: I) -> Result<C, clap::Error>
where
    C: clap::Args + clap::FromArgMatches,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = C::augment_args(clap::Command::new("local"))
        .no_binary_name(true)
        .mut_args(|arg| arg.env(None::<&str>));
    C::from_arg_matches(&command.try_get_matches_from(args)?)
}

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
    /// Host other services use to reach this one, as registered; `auto` is this machine's
    /// address on its default route (a container's own), so scaled replicas register apart.
    #[arg(long, env = "VOTEMESH_ADVERTISE_HOST", default_value = "127.0.0.1")]
    pub advertise_host: String,
    /// Address of the Prometheus `/metrics` listener; unset disables it.
    #[arg(long, env = "VOTEMESH_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Registry URL, e.g. `http://127.0.0.1:7000`, or several replicas' URLs separated by
    /// commas (sharing one Redis store); unset skips registration.
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
    /// How long a draining process keeps serving after it has deregistered, so that every
    /// caller's watch has dropped it before it stops taking calls, in milliseconds.
    #[arg(long, env = "VOTEMESH_DEREGISTER_GRACE_MS", default_value_t = 1000)]
    pub deregister_grace_ms: u64,
    /// Lease length requested from the registry.
    #[arg(long, env = "VOTEMESH_LEASE_TTL_SECONDS", default_value_t = 10)]
    pub lease_ttl_seconds: u32,
    /// Most calls this process works on at once; past it a call is refused at once with
    /// RESOURCE_EXHAUSTED (503 with Retry-After over REST). Streams are not counted.
    #[arg(long, env = "VOTEMESH_MAX_IN_FLIGHT", default_value_t = 1024)]
    pub max_in_flight: usize,
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
    pub fn drain_deadline(&self) -> Duration {
        Duration::from_secs(self.drain_seconds)
    }

    pub fn deregister_grace(&self) -> Duration {
        Duration::from_millis(self.deregister_grace_ms)
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

    #[derive(clap::Args)]
    struct Local {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(
            long,
            env = "VOTEMESH_TEST_CONFIG_LOCAL_ONLY",
            default_value = "declared"
        )]
        only: String,
    }

    #[test]
    fn local_configs_take_declared_defaults_and_ignore_env() {
        // Set and read by this test only.
        std::env::set_var("VOTEMESH_TEST_CONFIG_LOCAL_ONLY", "from env");
        let config: Local = local(["--internal-token", "s3cret"]).expect("valid flags");
        assert_eq!(config.only, "declared");
        assert_eq!(config.common.internal_token, "s3cret");
        assert_eq!(config.common.listen, SocketAddr::from(([127, 0, 0, 1], 0)));
        assert_eq!(config.common.drain_seconds, 10);
        let missing = local::<Local, _, _>(["--listen", "127.0.0.1:0"]);
        assert!(missing.is_err(), "the internal token has no default");
    }

    #[test]
    fn a_bad_address_is_refused() {
        let parsed = Cli::try_parse_from(["svc", "--listen", "nope", "--internal-token", "x"]);
        assert!(parsed.is_err());
    }
}
