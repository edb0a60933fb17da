//! `votemesh health <addr>`: asks a running service's grpc.health.v1 whether it is SERVING,
//! for container healthchecks that have no other client (compose, the image's HEALTHCHECK).

use std::time::Duration;

use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

#[derive(clap::Args)]
pub struct HealthArgs {
    /// The service's address, e.g. `http://127.0.0.1:7000`.
    address: String,
    /// The service name to ask about; empty asks about the server as a whole.
    #[arg(long, default_value = "")]
    service: String,
    /// How long to wait for an answer, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
}

/// Whether the service answers SERVING in time; the reason when it does not.
pub async fn check(args: HealthArgs) -> Result<(), String> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let channel = kit::internal::endpoint(&args.address, timeout)
        .map_err(|error| format!("{}: {error}", args.address))?
        .connect_lazy();
    let request = HealthCheckRequest {
        service: args.service,
    };
    let mut client = HealthClient::new(channel);
    let asked = tokio::time::timeout(timeout, client.check(request));
    let status = match asked.await {
        Err(_) => return Err(format!("{}: no answer within {timeout:?}", args.address)),
        Ok(Err(status)) => return Err(format!("{}: {}", args.address, status.message())),
        Ok(Ok(reply)) => reply.into_inner().status(),
    };
    match status {
        ServingStatus::Serving => Ok(()),
        other => Err(format!("{}: {}", args.address, other.as_str_name())),
    }
}
