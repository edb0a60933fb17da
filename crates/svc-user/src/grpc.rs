//! The gRPC adapter over [`Users`].

use std::sync::Arc;

use kit::auth::caller;
use proto_gen::user::v1::{
    user_service_server::UserService, ChangePasswordRequest, ChangePasswordResponse,
    DisableUserRequest, DisableUserResponse, FindAccountsRequest, FindAccountsResponse,
    GetAccountStatusRequest, GetAccountStatusResponse, GetContactRequest, GetContactResponse,
    GetMeRequest, GetMeResponse, GetSigningKeysRequest, GetSigningKeysResponse, GetUserRequest,
    GetUserResponse, ListUsersRequest, ListUsersResponse, LoginRequest, LoginResponse,
    LogoutRequest, LogoutResponse, RefreshRequest, RefreshResponse, RegisterRequest,
    RegisterResponse, ResendVerificationRequest, ResendVerificationResponse, SetRoleRequest,
    SetRoleResponse, UpdateMeRequest, UpdateMeResponse, VerifyContactRequest,
    VerifyContactResponse,
};
use tonic::{Request, Response, Status};

use crate::users::Users;

pub struct UserApi(pub Arc<Users>);

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl UserService for UserApi {
    async fn register(&self, request: Request<RegisterRequest>) -> Reply<RegisterResponse> {
        let user = self.0.register(request.into_inner()).await?;
        Ok(Response::new(RegisterResponse { user: Some(user) }))
    }

    async fn login(&self, request: Request<LoginRequest>) -> Reply<LoginResponse> {
        Ok(Response::new(self.0.login(request.into_inner()).await?))
    }

    async fn refresh(&self, request: Request<RefreshRequest>) -> Reply<RefreshResponse> {
        Ok(Response::new(self.0.refresh(request.into_inner()).await?))
    }

    async fn logout(&self, request: Request<LogoutRequest>) -> Reply<LogoutResponse> {
        let caller = caller(&request)?;
        self.0.logout(&caller, request.into_inner()).await?;
        Ok(Response::new(LogoutResponse {}))
    }

    async fn get_signing_keys(
        &self,
        _request: Request<GetSigningKeysRequest>,
    ) -> Reply<GetSigningKeysResponse> {
        Ok(Response::new(self.0.signing_keys().await?))
    }

    async fn get_me(&self, request: Request<GetMeRequest>) -> Reply<GetMeResponse> {
        let caller = caller(&request)?;
        let user = self.0.me(&caller).await?;
        Ok(Response::new(GetMeResponse { user: Some(user) }))
    }

    async fn update_me(&self, request: Request<UpdateMeRequest>) -> Reply<UpdateMeResponse> {
        let caller = caller(&request)?;
        let user = self.0.update_me(&caller, request.into_inner()).await?;
        Ok(Response::new(UpdateMeResponse { user: Some(user) }))
    }

    async fn change_password(
        &self,
        request: Request<ChangePasswordRequest>,
    ) -> Reply<ChangePasswordResponse> {
        let caller = caller(&request)?;
        self.0
            .change_password(&caller, request.into_inner())
            .await?;
        Ok(Response::new(ChangePasswordResponse {}))
    }

    async fn list_users(&self, request: Request<ListUsersRequest>) -> Reply<ListUsersResponse> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.0.list_users(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Reply<GetUserResponse> {
        let caller = caller(&request)?;
        let user = self.0.get_user(&caller, &request.get_ref().user_id).await?;
        Ok(Response::new(GetUserResponse { user: Some(user) }))
    }

    async fn set_role(&self, request: Request<SetRoleRequest>) -> Reply<SetRoleResponse> {
        let caller = caller(&request)?;
        let user = self.0.set_role(&caller, request.into_inner()).await?;
        Ok(Response::new(SetRoleResponse { user: Some(user) }))
    }

    async fn disable_user(
        &self,
        request: Request<DisableUserRequest>,
    ) -> Reply<DisableUserResponse> {
        let caller = caller(&request)?;
        let user = self.0.disable_user(&caller, request.into_inner()).await?;
        Ok(Response::new(DisableUserResponse { user: Some(user) }))
    }

    async fn get_account_status(
        &self,
        request: Request<GetAccountStatusRequest>,
    ) -> Reply<GetAccountStatusResponse> {
        Ok(Response::new(
            self.0.account_status(&request.get_ref().user_id).await?,
        ))
    }

    async fn get_contact(&self, request: Request<GetContactRequest>) -> Reply<GetContactResponse> {
        Ok(Response::new(
            self.0.contact(&request.get_ref().user_id).await?,
        ))
    }

    async fn verify_contact(
        &self,
        request: Request<VerifyContactRequest>,
    ) -> Reply<VerifyContactResponse> {
        let caller = caller(&request)?;
        let user = self.0.verify_contact(&caller, request.into_inner()).await?;
        Ok(Response::new(VerifyContactResponse { user: Some(user) }))
    }

    async fn resend_verification(
        &self,
        request: Request<ResendVerificationRequest>,
    ) -> Reply<ResendVerificationResponse> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.0
                .resend_verification(&caller, request.into_inner())
                .await?,
        ))
    }

    async fn find_accounts(
        &self,
        request: Request<FindAccountsRequest>,
    ) -> Reply<FindAccountsResponse> {
        Ok(Response::new(
            self.0.find_accounts(request.into_inner()).await?,
        ))
    }
}
