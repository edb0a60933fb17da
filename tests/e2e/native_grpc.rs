//! Acceptance 1, native gRPC: the same lifecycle with tonic clients through the edge.

use proto_gen::user::v1::{
    ChangePasswordRequest, GetMeRequest, LoginRequest, LogoutRequest, NotificationChannel,
    RefreshRequest, RegisterRequest, UpdateMeRequest,
};
use tonic::Code;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_lives_a_whole_session_over_native_grpc() {
    let mesh = spawn_mesh().await;
    let mut client = user_client(&mesh.edge_url).await;
    let address = email("grpc");

    let registered = client
        .register(RegisterRequest {
            email: address.clone(),
            password: PASSWORD.into(),
            display_name: "Grace".into(),
        })
        .await
        .expect("register")
        .into_inner();
    let user_id = registered.user.expect("user").user_id;

    let invalid = client
        .register(RegisterRequest {
            email: "not-an-email".into(),
            password: PASSWORD.into(),
            display_name: "Grace".into(),
        })
        .await
        .expect_err("bad email");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(
        invalid.message().starts_with("email:"),
        "{}",
        invalid.message()
    );

    let login = client
        .login(LoginRequest {
            email: address.clone(),
            password: PASSWORD.into(),
        })
        .await
        .expect("login")
        .into_inner();
    assert!(login.expires_in > 0);

    let me = client
        .get_me(bearer(GetMeRequest {}, &login.access_token))
        .await
        .expect("me")
        .into_inner();
    assert_eq!(me.user.expect("user").user_id, user_id);
    let anonymous = client.get_me(GetMeRequest {}).await.expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let updated = client
        .update_me(bearer(
            UpdateMeRequest {
                display_name: Some("Grace H.".into()),
                phone: None,
                notification_channel: Some(NotificationChannel::None as i32),
                email: None,
            },
            &login.access_token,
        ))
        .await
        .expect("update")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(updated.display_name, "Grace H.");
    assert_eq!(
        updated.notification_channel,
        NotificationChannel::None as i32
    );

    let refreshed = client
        .refresh(RefreshRequest {
            refresh_token: login.refresh_token.clone(),
        })
        .await
        .expect("refresh")
        .into_inner();
    let reused = client
        .refresh(RefreshRequest {
            refresh_token: login.refresh_token.clone(),
        })
        .await
        .expect_err("spent");
    assert_eq!(reused.code(), Code::Unauthenticated);

    client
        .change_password(bearer(
            ChangePasswordRequest {
                current_password: PASSWORD.into(),
                new_password: "another long password".into(),
            },
            &refreshed.access_token,
        ))
        .await
        .expect("change password");
    let old = client
        .login(LoginRequest {
            email: address.clone(),
            password: PASSWORD.into(),
        })
        .await
        .expect_err("old password");
    assert_eq!(old.code(), Code::Unauthenticated);
    let again = client
        .login(LoginRequest {
            email: address,
            password: "another long password".into(),
        })
        .await
        .expect("new password")
        .into_inner();

    client
        .logout(bearer(
            LogoutRequest {
                refresh_token: String::new(),
                all_sessions: true,
            },
            &again.access_token,
        ))
        .await
        .expect("logout");
    let after_logout = client
        .refresh(RefreshRequest {
            refresh_token: again.refresh_token,
        })
        .await
        .expect_err("revoked");
    assert_eq!(after_logout.code(), Code::Unauthenticated);
}
