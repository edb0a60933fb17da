//! Acceptance 2: admin endpoints refuse a voter and work for an admin.

use proto_gen::user::v1::{ListUsersRequest, SetRoleRequest};
use reqwest::Method;
use serde_json::json;
use tonic::Code;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voters_are_refused_and_admins_manage_users() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let voter = api.voter("voter").await;
    let other = api.voter("other").await;
    let target = format!("/v1/admin/users/{}", other.user_id);

    for (method, path, body) in [
        (Method::GET, "/v1/admin/users".to_owned(), None),
        (Method::GET, target.clone(), None),
        (
            Method::POST,
            format!("{target}/role"),
            Some(json!({"role": "ROLE_ADMIN"})),
        ),
        (
            Method::POST,
            format!("{target}/disable"),
            Some(json!({"disabled": true})),
        ),
    ] {
        let reply = api.call(method, &path, Some(&voter.access), body).await;
        assert_eq!(
            error(&reply, "status"),
            (403, Some("PERMISSION_DENIED")),
            "{path}"
        );
    }
    let mut grpc = user_client(&mesh.edge_url).await;
    let refused = grpc
        .list_users(bearer(ListUsersRequest::default(), &voter.access))
        .await
        .expect_err("voter");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let promote_self = grpc
        .set_role(bearer(
            SetRoleRequest {
                user_id: voter.user_id.clone(),
                role: proto_gen::user::v1::Role::Admin as i32,
            },
            &voter.access,
        ))
        .await
        .expect_err("voter");
    assert_eq!(promote_self.code(), Code::PermissionDenied);
    assert_eq!(
        api.get("/v1/me", Some(&voter.access)).await.1["user"]["role"],
        "ROLE_VOTER"
    );

    let admin = api.admin().await;
    let as_admin = Some(admin.access.as_str());
    let (status, page) = api
        .get("/v1/admin/users?page_size=2&role=ROLE_VOTER", as_admin)
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["users"].as_array().map(Vec::len), Some(2));
    let token = page["next_page_token"].as_str().unwrap_or_default();
    assert!(token.is_empty(), "two voters fit one page of two");
    let search = format!("/v1/admin/users?email_contains={}", &other.email[..12]);
    let (_, filtered) = api.get(&search, as_admin).await;
    assert_eq!(filtered["users"][0]["user_id"], other.user_id.as_str());
    let (status, fetched) = api.get(&target, as_admin).await;
    assert_eq!(
        (status, fetched["user"]["email"].as_str()),
        (200, Some(other.email.as_str()))
    );
    let missing = api.get("/v1/admin/users/not-a-uuid", as_admin).await;
    assert_eq!(error(&missing, "field"), (400, Some("user_id")));
    let stranger = format!("/v1/admin/users/{}", uuid::Uuid::new_v4());
    assert_eq!(api.get(&stranger, as_admin).await.0, 404);

    let listed = grpc
        .list_users(bearer(ListUsersRequest::default(), &admin.access))
        .await
        .expect("admin lists over gRPC")
        .into_inner();
    assert_eq!(listed.users.len(), 3);

    let (status, promoted) = api
        .set_role(&admin.access, &other.user_id, "ROLE_ADMIN")
        .await;
    assert_eq!(
        (status, promoted["user"]["role"].as_str()),
        (200, Some("ROLE_ADMIN"))
    );
    let other_again = api.login(&other.email, PASSWORD).await;
    assert_eq!(
        api.get("/v1/admin/users", Some(&other_again.access))
            .await
            .0,
        200
    );

    let (status, disabled) = api.disable(&admin.access, &voter.user_id).await;
    assert_eq!(
        (status, disabled["user"]["disabled"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(
        api.get("/v1/me", Some(&voter.access)).await.0,
        401,
        "a disabled user's token stops working"
    );
    assert_eq!(api.try_login(&voter.email, PASSWORD).await.0, 403);
    assert_eq!(
        api.refresh(&voter.refresh).await.0,
        401,
        "disabling revokes refresh tokens"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_cannot_be_demoted_or_disabled() {
    let mesh = spawn_mesh().await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let demoted = api
        .set_role(&admin.access, &admin.user_id, "ROLE_VOTER")
        .await;
    assert_eq!(
        error(&demoted, "status"),
        (412, Some("FAILED_PRECONDITION"))
    );
    assert_eq!(api.disable(&admin.access, &admin.user_id).await.0, 412);
    assert_eq!(
        api.get("/v1/me", Some(&admin.access)).await.1["user"]["role"],
        "ROLE_ADMIN"
    );
}
