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
        let (status, body) = api.call(method, &path, Some(&voter.access), body).await;
        assert_eq!(
            (status, body["error"]["status"].as_str()),
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
    let (status, page) = api
        .get(
            "/v1/admin/users?page_size=2&role=ROLE_VOTER",
            Some(&admin.access),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["users"].as_array().map(Vec::len), Some(2));
    let token = page["next_page_token"].as_str().unwrap_or_default();
    assert!(token.is_empty(), "two voters fit one page of two");
    let (_, filtered) = api
        .get(
            &format!("/v1/admin/users?email_contains={}", &other.email[..12]),
            Some(&admin.access),
        )
        .await;
    assert_eq!(filtered["users"][0]["user_id"], other.user_id.as_str());
    let (status, fetched) = api.get(&target, Some(&admin.access)).await;
    assert_eq!(
        (status, fetched["user"]["email"].as_str()),
        (200, Some(other.email.as_str()))
    );
    let (status, missing) = api
        .get("/v1/admin/users/not-a-uuid", Some(&admin.access))
        .await;
    assert_eq!(
        (status, missing["error"]["field"].as_str()),
        (400, Some("user_id"))
    );
    let (status, _) = api
        .get(
            &format!("/v1/admin/users/{}", uuid::Uuid::new_v4()),
            Some(&admin.access),
        )
        .await;
    assert_eq!(status, 404);

    let listed = grpc
        .list_users(bearer(ListUsersRequest::default(), &admin.access))
        .await
        .expect("admin lists over gRPC")
        .into_inner();
    assert_eq!(listed.users.len(), 3);

    let (status, promoted) = api
        .post(
            &format!("{target}/role"),
            Some(&admin.access),
            json!({"role": "ROLE_ADMIN"}),
        )
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

    let (status, disabled) = api
        .post(
            &format!("/v1/admin/users/{}/disable", voter.user_id),
            Some(&admin.access),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(
        (status, disabled["user"]["disabled"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(
        api.get("/v1/me", Some(&voter.access)).await.0,
        401,
        "a disabled user's token stops working"
    );
    let (status, _) = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": voter.email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = api
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": voter.refresh}),
        )
        .await;
    assert_eq!(status, 401, "disabling revokes refresh tokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_cannot_be_demoted_or_disabled() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let me = format!("/v1/admin/users/{}", admin.user_id);
    let (status, body) = api
        .post(
            &format!("{me}/role"),
            Some(&admin.access),
            json!({"role": "ROLE_VOTER"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (412, Some("FAILED_PRECONDITION"))
    );
    let (status, _) = api
        .post(
            &format!("{me}/disable"),
            Some(&admin.access),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, 412);
    assert_eq!(
        api.get("/v1/me", Some(&admin.access)).await.1["user"]["role"],
        "ROLE_ADMIN"
    );
}
