//! svc-user, as the other services call it.

use kit::ServiceError;
use proto_gen::user::v1::{
    user_service_client::UserServiceClient, user_service_server::SERVICE_NAME, FindAccountsRequest,
    FoundAccount, GetAccountStatusRequest, GetAccountStatusResponse, GetContactRequest,
    GetContactResponse, GetSigningKeysRequest, GetSigningKeysResponse,
};

crate::typed_client!(UserClient, SERVICE_NAME, UserServiceClient);

impl UserClient {
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

    /// The accounts registered with any of `emails` (at most 1,000).
    pub async fn find_accounts(
        &self,
        emails: &[String],
    ) -> Result<Vec<FoundAccount>, ServiceError> {
        let request = FindAccountsRequest {
            emails: emails.to_vec(),
        };
        let found = self
            .rpc("FindAccounts", |mut client| async move {
                client.find_accounts(request).await
            })
            .await?;
        Ok(found.accounts)
    }

    /// The public keys that verify access tokens.
    pub async fn get_signing_keys(&self) -> Result<GetSigningKeysResponse, ServiceError> {
        self.rpc("GetSigningKeys", |mut client| async move {
            client.get_signing_keys(GetSigningKeysRequest {}).await
        })
        .await
    }
}
