//! svc-voting, as svc-result calls it.

use kit::{auth::Caller, ServiceError};
use proto_gen::voting::v1::{
    voting_service_client::VotingServiceClient, voting_service_server::SERVICE_NAME,
    RecordedCountRequest,
};

crate::typed_client!(VotingClient, SERVICE_NAME, VotingServiceClient);

impl VotingClient {
    /// How many ballots svc-voting recorded for the election, asked for `caller` (an admin,
    /// verified by this service), so svc-voting applies its own admin rule to them.
    pub async fn recorded_count(
        &self,
        caller: &Caller,
        election_id: &str,
    ) -> Result<u64, ServiceError> {
        let mut request = tonic::Request::new(RecordedCountRequest {
            election_id: election_id.to_owned(),
        });
        self.0.token().hand_on(caller, request.metadata_mut())?;
        self.rpc("RecordedCount", |mut client| async move {
            client.recorded_count(request).await
        })
        .await
        .map(|recorded| recorded.ballots)
    }
}
