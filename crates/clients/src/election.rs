//! svc-candidate, as svc-voting and svc-result call it.

use kit::ServiceError;
use proto_gen::election::v1::{
    election_service_client::ElectionServiceClient, election_service_server::SERVICE_NAME,
    CheckEligibilityRequest, CheckEligibilityResponse,
};

crate::typed_client!(ElectionClient, SERVICE_NAME, ElectionServiceClient);

impl ElectionClient {
    /// The election with its candidates, and whether the user `user_id` may vote in it (an
    /// empty id asks about the election alone). svc-candidate looks the voter up itself.
    pub async fn check_eligibility(
        &self,
        election_id: &str,
        user_id: &str,
    ) -> Result<CheckEligibilityResponse, ServiceError> {
        let request = CheckEligibilityRequest {
            election_id: election_id.to_owned(),
            user_id: user_id.to_owned(),
            email: String::new(),
        };
        self.rpc("CheckEligibility", |mut client| async move {
            client.check_eligibility(request).await
        })
        .await
    }
}
