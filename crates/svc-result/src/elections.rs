//! Election details from svc-candidate, cached briefly: the method, the candidates in ballot
//! order, the status and who may see results when.

use std::time::Duration;

use clients::ElectionClient;
use kit::{cache::SingleFlight, ServiceError};
use proto_gen::election::v1::{Candidate, Election};

#[derive(Clone)]
pub struct ElectionInfo {
    pub election: Election,
    pub candidates: Vec<Candidate>,
}

pub struct ElectionDirectory {
    elections: ElectionClient,
    cache: SingleFlight<String, ElectionInfo>,
}

impl ElectionDirectory {
    pub fn new(elections: ElectionClient, ttl: Duration) -> Self {
        Self {
            elections,
            cache: SingleFlight::new(ttl),
        }
    }

    async fn ask(&self, election_id: &str) -> Result<ElectionInfo, ServiceError> {
        let reply = self.elections.check_eligibility(election_id, "").await?;
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

    /// Asked now, past the cache: for decisions that must follow a status change at once.
    pub async fn fresh(&self, election_id: &str) -> Result<ElectionInfo, ServiceError> {
        self.ask(election_id).await
    }

    pub async fn get(&self, election_id: &str) -> Result<ElectionInfo, ServiceError> {
        self.cache
            .get_or_load(&election_id.to_owned(), || self.ask(election_id))
            .await
    }
}
