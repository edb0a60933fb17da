//! svc-candidate's internal CheckEligibility, as svc-voting and svc-result call it: one
//! live instance through the registry, svc-candidate's refusals kept as they are meant.

use std::time::Duration;

use proto_gen::election::v1::{
    election_service_client::ElectionServiceClient, CheckEligibilityRequest,
    CheckEligibilityResponse,
};
use tonic::Code;

use crate::{discovery::Balanced, internal::InternalToken, ServiceError};

/// The service that owns elections.
pub const ELECTION_SERVICE: &str = "votemesh.election.v1.ElectionService";

/// The election with its candidates, and whether the voter with `email` may vote in it (an
/// empty email asks about the election alone).
pub async fn check_eligibility(
    elections: &Balanced,
    token: &InternalToken,
    election_id: &str,
    email: &str,
) -> Result<CheckEligibilityResponse, ServiceError> {
    let channel = elections
        .pick_within(Duration::from_secs(2))
        .await
        .ok_or_else(|| ServiceError::Unavailable("no svc-candidate instance".into()))?;
    ElectionServiceClient::with_interceptor(channel, token.clone())
        .check_eligibility(CheckEligibilityRequest {
            election_id: election_id.to_owned(),
            user_id: String::new(),
            email: email.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| match status.code() {
            Code::NotFound => ServiceError::NotFound("election_id: no such election".into()),
            Code::InvalidArgument => ServiceError::invalid("election_id", "not a valid id"),
            _ => ServiceError::Unavailable(format!(
                "election details unavailable: {}",
                status.message()
            )),
        })
}
