//! svc-candidate, as svc-voting and svc-result call it.

use kit::{config::CommonArgs, internal::RegistryClient, ServiceError};
use proto_gen::election::v1::{
    election_service_client::ElectionServiceClient, election_service_server::SERVICE_NAME,
    CheckEligibilityRequest, CheckEligibilityResponse,
};

use crate::Upstream;

#[derive(Clone)]
pub struct ElectionClient(Upstream);

impl ElectionClient {
    pub const SERVICE: &'static str = SERVICE_NAME;

    pub fn watch(registry: &RegistryClient, common: &CommonArgs) -> anyhow::Result<Self> {
        Upstream::watch(registry, SERVICE_NAME, common).map(Self)
    }

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
        self.0
            .call("CheckEligibility", |channel| async move {
                ElectionServiceClient::new(channel)
                    .check_eligibility(request)
                    .await
            })
            .await
    }
}
