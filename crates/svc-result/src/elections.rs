//! Election details from svc-candidate through the registry, cached briefly: the method,
//! the candidates in ballot order, the status and who may see results when.

use std::time::Duration;

use kit::{cache::SingleFlight, discovery::Balanced, internal::InternalToken, ServiceError};
use proto_gen::election::v1::{
    election_service_client::ElectionServiceClient, Candidate, CheckEligibilityRequest, Election,
};
use tonic::Code;

#[derive(Clone)]
pub struct ElectionInfo {
    pub election: Election,
    pub candidates: Vec<Candidate>,
}

pub struct ElectionDirectory {
    elections: Balanced,
    token: InternalToken,
    cache: SingleFlight<String, ElectionInfo>,
}

impl ElectionDirectory {
    pub fn new(elections: Balanced, token: InternalToken, ttl: Duration) -> Self {
        Self {
            elections,
            token,
            cache: SingleFlight::new(ttl),
        }
    }

    async fn ask(&self, election_id: &str) -> Result<ElectionInfo, ServiceError> {
        let channel = self
            .elections
            .pick_within(Duration::from_secs(2))
            .await
            .ok_or_else(|| ServiceError::Unavailable("no svc-candidate instance".into()))?;
        let reply = ElectionServiceClient::with_interceptor(channel, self.token.clone())
            .check_eligibility(CheckEligibilityRequest {
                election_id: election_id.to_owned(),
                user_id: String::new(),
                email: String::new(),
            })
            .await
            .map_err(|status| match status.code() {
                Code::NotFound => ServiceError::NotFound("election_id: no such election".into()),
                Code::InvalidArgument => ServiceError::invalid("election_id", "not a valid id"),
                _ => ServiceError::Unavailable(format!(
                    "election details unavailable: {}",
                    status.message()
                )),
            })?
            .into_inner();
        let election = reply.election.ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!("svc-candidate sent no election"))
        })?;
        let mut candidates = reply.candidates;
        candidates.sort_by_key(|c| c.ballot_position);
        Ok(ElectionInfo {
            election,
            candidates,
        })
    }

    pub async fn get(&self, election_id: &str) -> Result<ElectionInfo, ServiceError> {
        self.cache
            .get_or_load(&election_id.to_owned(), || self.ask(election_id))
            .await
    }
}
