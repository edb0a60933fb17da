//! svc-voting, as svc-result and svc-notify call it.

use kit::{auth::Caller, ServiceError};
use proto_gen::voting::v1::{
    voting_service_client::VotingServiceClient, voting_service_server::SERVICE_NAME,
    CheckParticipationRequest, RecordedCountRequest, RecordedCountResponse,
};

crate::typed_client!(VotingClient, SERVICE_NAME, VotingServiceClient);

impl VotingClient {
    /// How many ballots svc-voting recorded for the election, and how many of those are
    /// still sealed, asked for `caller` (an admin, verified by this service), so svc-voting
    /// applies its own admin rule to them.
    pub async fn recorded_count(
        &self,
        caller: &Caller,
        election_id: &str,
    ) -> Result<RecordedCountResponse, ServiceError> {
        let mut request = tonic::Request::new(RecordedCountRequest {
            election_id: election_id.to_owned(),
        });
        self.0.token().hand_on(caller, request.metadata_mut())?;
        self.rpc("RecordedCount", |mut client| async move {
            client.recorded_count(request).await
        })
        .await
    }

    /// Which of `voter_ids` (user ids, at most 1,000 per call) have voted in the election, in
    /// no particular order. Participation only: nothing about any choice.
    pub async fn check_participation(
        &self,
        election_id: &str,
        voter_ids: &[String],
    ) -> Result<Vec<String>, ServiceError> {
        let request = CheckParticipationRequest {
            election_id: election_id.to_owned(),
            voter_ids: voter_ids.to_vec(),
        };
        self.rpc("CheckParticipation", |mut client| async move {
            client.check_participation(request).await
        })
        .await
        .map(|answer| answer.voted_voter_ids)
    }
}
