//! What svc-voting needs to know about an election, from svc-candidate through the registry:
//! cached briefly per election, and asked per voter only for elections with a voter roll.

use std::time::Duration;

use kit::{
    cache::SingleFlight, discovery::Balanced, elections::check_eligibility,
    internal::InternalToken, ServiceError,
};
use proto_gen::{
    election::v1::{CheckEligibilityResponse, Election, Eligibility},
    user::v1::{user_service_client::UserServiceClient, GetContactRequest},
};

/// An election as a cast sees it.
#[derive(Clone)]
pub struct BallotView {
    pub election: Election,
    pub candidate_ids: Vec<String>,
    pub eligible: bool,
}

pub struct ElectionDirectory {
    elections: Balanced,
    users: Balanced,
    token: InternalToken,
    cache: SingleFlight<String, CheckEligibilityResponse>,
}

impl ElectionDirectory {
    pub fn new(elections: Balanced, users: Balanced, token: InternalToken, ttl: Duration) -> Self {
        Self {
            elections,
            users,
            token,
            cache: SingleFlight::new(ttl),
        }
    }

    async fn ask(
        &self,
        election_id: &str,
        email: &str,
    ) -> Result<CheckEligibilityResponse, ServiceError> {
        check_eligibility(&self.elections, &self.token, election_id, email).await
    }

    async fn email_of(&self, user_id: &str) -> Result<String, ServiceError> {
        let channel = self
            .users
            .pick_within(Duration::from_secs(2))
            .await
            .ok_or_else(|| ServiceError::Unavailable("no svc-user instance".into()))?;
        UserServiceClient::with_interceptor(channel, self.token.clone())
            .get_contact(GetContactRequest {
                user_id: user_id.to_owned(),
            })
            .await
            .map(|r| r.into_inner().email)
            .map_err(|e| {
                ServiceError::Unavailable(format!("voter details unavailable: {}", e.message()))
            })
    }

    /// Forgets what is cached about an election whose status changed.
    pub fn invalidate(&self, election_id: &str) {
        self.cache.invalidate(&election_id.to_owned());
    }

    pub async fn view(
        &self,
        election_id: &str,
        voter_id: &str,
    ) -> Result<BallotView, ServiceError> {
        let general = self
            .cache
            .get_or_load(&election_id.to_owned(), || self.ask(election_id, ""))
            .await?;
        let election = general.election.clone().ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!("svc-candidate sent no election"))
        })?;
        let eligible = if election.eligibility == Eligibility::Roll as i32 {
            let email = self.email_of(voter_id).await?;
            self.ask(election_id, &email).await?.eligible
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
