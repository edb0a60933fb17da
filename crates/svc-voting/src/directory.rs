//! What svc-voting needs to know about an election, from svc-candidate: cached briefly per
//! election, and asked per voter (by user id; svc-candidate finds the email) only for
//! elections with a voter roll.

use std::time::Duration;

use clients::ElectionClient;
use kit::{cache::SingleFlight, ServiceError};
use proto_gen::election::v1::{CheckEligibilityResponse, Election, Eligibility};

/// An election as a cast sees it.
#[derive(Clone)]
pub struct BallotView {
    pub election: Election,
    pub candidate_ids: Vec<String>,
    pub eligible: bool,
}

pub struct ElectionDirectory {
    elections: ElectionClient,
    cache: SingleFlight<String, CheckEligibilityResponse>,
}

impl ElectionDirectory {
    pub fn new(elections: ElectionClient, ttl: Duration) -> Self {
        Self {
            elections,
            cache: SingleFlight::new(ttl),
        }
    }

    /// Forgets what is cached about an election whose status changed.
    pub fn invalidate(&self, election_id: &str) {
        self.cache.invalidate(&election_id.to_owned());
    }

    /// The election itself, as cached.
    pub async fn election(&self, election_id: &str) -> Result<Election, ServiceError> {
        self.general(election_id).await?.election.ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!("svc-candidate sent no election"))
        })
    }

    async fn general(&self, election_id: &str) -> Result<CheckEligibilityResponse, ServiceError> {
        self.cache
            .get_or_load(&election_id.to_owned(), || {
                self.elections.check_eligibility(election_id, "")
            })
            .await
    }

    pub async fn view(
        &self,
        election_id: &str,
        voter_id: &str,
    ) -> Result<BallotView, ServiceError> {
        let general = self.general(election_id).await?;
        let election = general.election.clone().ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!("svc-candidate sent no election"))
        })?;
        let eligible = if election.eligibility == Eligibility::Roll as i32 {
            self.elections
                .check_eligibility(election_id, voter_id)
                .await?
                .eligible
        } else {
            true
        };
        Ok(BallotView {
            candidate_ids: general
                .candidates
                .iter()
                .map(|c| c.candidate_id.clone())
                .collect(),
            election,
            eligible,
        })
    }
}
