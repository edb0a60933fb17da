//! svc-user, as the other services call it.

use kit::{config::CommonArgs, discovery::Balanced, ServiceError};
use proto_gen::user::v1::{
    user_service_client::UserServiceClient, user_service_server::SERVICE_NAME,
    GetAccountStatusRequest, GetAccountStatusResponse, GetContactRequest, GetContactResponse,
    GetSigningKeysRequest, GetSigningKeysResponse,
};

use crate::Upstream;

crate::typed_client!(UserClient, SERVICE_NAME, UserServiceClient);

impl UserClient {
    /// Over a set of svc-user instances the caller already follows.
    pub fn new(instances: Balanced, common: &CommonArgs) -> anyhow::Result<Self> {
        anyhow::ensure!(
            instances.service() == SERVICE_NAME,
            "a UserClient needs {SERVICE_NAME} instances, not {}",
            instances.service()
        );
        Upstream::new(instances, common).map(Self)
    }

    /// Whether the account exists, is enabled, and its role now.
    pub async fn get_account_status(
        &self,
        user_id: &str,
    ) -> Result<GetAccountStatusResponse, ServiceError> {
        let request = GetAccountStatusRequest {
            user_id: user_id.to_owned(),
        };
        self.rpc("GetAccountStatus", |mut client| async move {
            client.get_account_status(request).await
        })
        .await
    }

    /// How to reach the user: email, phone, display name.
    pub async fn get_contact(&self, user_id: &str) -> Result<GetContactResponse, ServiceError> {
        let request = GetContactRequest {
            user_id: user_id.to_owned(),
        };
        self.rpc("GetContact", |mut client| async move {
            client.get_contact(request).await
        })
        .await
    }

    /// The public keys that verify access tokens.
    pub async fn get_signing_keys(&self) -> Result<GetSigningKeysResponse, ServiceError> {
        self.rpc("GetSigningKeys", |mut client| async move {
            client.get_signing_keys(GetSigningKeysRequest {}).await
        })
        .await
    }
}
