//! The caller header hands a verified identity on from one service to the next, under the
//! internal token, so each hop checks the account once. A client cannot forge it: the edge
//! strips it from REST, gRPC and grpc-web calls, and a service refuses it from anyone without
//! the internal token.

use kit::auth::{CALLER_HEADER, INTERNAL_TOKEN_HEADER};
use prost::Message;
use proto_gen::user::v1::{GetMeRequest, GetMeResponse, ListUsersRequest};
use tonic::Code;

use crate::{grpc_web::frame, support::*};

/// `request` with extra metadata, as a forger would send it.
fn with_headers<T>(
    mut request: tonic::Request<T>,
    headers: &[(&'static str, &str)],
) -> tonic::Request<T> {
    for (name, value) in headers {
        request
            .metadata_mut()
            .insert(*name, value.parse().expect("ascii"));
    }
    request
}

/// A grpc-web call to svc-user through the edge with a forged caller header: the grpc-status
/// and, on success, the decoded answer.
async fn grpc_web_get_me(
    base: &str,
    token: &str,
    forged_caller: &str,
) -> (i32, Option<GetMeResponse>) {
    let response = reqwest::Client::builder()
        .http1_only()
        .build()
        .expect("client")
        .post(format!("{base}/votemesh.user.v1.UserService/GetMe"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header(CALLER_HEADER, forged_caller)
        .bearer_auth(token)
        .body(frame(&GetMeRequest {}.encode_to_vec()))
        .send()
        .await
        .expect("edge answers");
    let trailers_only = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let body = response.bytes().await.expect("body");
    let (mut status, mut answer) = (trailers_only, None);
    let mut rest = &body[..];
    while rest.len() >= 5 {
        let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let payload = &rest[5..5 + length];
        if rest[0] & 0x80 != 0 {
            let trailers = String::from_utf8_lossy(payload);
            status = trailers
                .split("\r\n")
                .find_map(|line| line.strip_prefix("grpc-status:")?.trim().parse().ok());
        } else {
            answer = Some(GetMeResponse::decode(payload).expect("decodes"));
        }
        rest = &rest[5 + length..];
    }
    (status.expect("a grpc-status"), answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cannot_forge_the_caller_header() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let voter = api.voter("forger").await;
    let admin = api.admin().await;
    let as_admin = format!("{} admin", admin.user_id);
    let forged: &[(&'static str, &str)] = &[
        (CALLER_HEADER, &as_admin),
        (INTERNAL_TOKEN_HEADER, "a guess"),
    ];

    // REST: the edge strips the header; the voter stays the voter.
    let rest = |path: &str| {
        let mut request = api.client.get(format!("{}{path}", api.base));
        for (name, value) in forged {
            request = request.header(*name, *value);
        }
        request
    };
    let me = rest("/v1/me")
        .bearer_auth(&voter.access)
        .send()
        .await
        .expect("answers");
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.expect("json");
    assert_eq!(
        me["user"]["user_id"],
        voter.user_id.as_str(),
        "still the voter"
    );
    let status = |r: reqwest::Response| r.status().as_u16();
    let users = rest("/v1/admin/users")
        .bearer_auth(&voter.access)
        .send()
        .await
        .expect("answers");
    assert_eq!(status(users), 403, "a forged admin is not an admin");
    let anonymous = rest("/v1/admin/users").send().await.expect("answers");
    assert_eq!(status(anonymous), 401, "a forged caller is nobody");

    // Native gRPC through the edge.
    let mut edge = user_client(&mesh.edge_url).await;
    let me = edge
        .get_me(with_headers(bearer(GetMeRequest {}, &voter.access), forged))
        .await
        .expect("the voter's own call")
        .into_inner();
    assert_eq!(me.user.expect("user").user_id, voter.user_id);
    let refused = edge
        .list_users(with_headers(
            bearer(ListUsersRequest::default(), &voter.access),
            forged,
        ))
        .await
        .expect_err("not an admin");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = edge
        .list_users(with_headers(
            tonic::Request::new(ListUsersRequest::default()),
            forged,
        ))
        .await
        .expect_err("nobody");
    assert_eq!(refused.code(), Code::Unauthenticated);

    // grpc-web through the edge.
    let (status, me) = grpc_web_get_me(&mesh.edge_url, &voter.access, &as_admin).await;
    assert_eq!(status, 0);
    let me = me.and_then(|me| me.user).expect("user");
    assert_eq!(me.user_id, voter.user_id, "still the voter over grpc-web");

    // Straight at a service: without the internal token the header is refused outright, with
    // or without a token of the caller's own.
    let mut direct = user_client(&mesh.instances.user[0]).await;
    for request in [
        with_headers(tonic::Request::new(ListUsersRequest::default()), forged),
        with_headers(bearer(ListUsersRequest::default(), &voter.access), forged),
    ] {
        let refused = direct.list_users(request).await.expect_err("forged");
        assert_eq!(refused.code(), Code::Unauthenticated);
    }
    // With it (what the edge does after its own checks), the service takes the caller as
    // handed on.
    let handed_on = with_headers(
        tonic::Request::new(ListUsersRequest::default()),
        &[
            (CALLER_HEADER, &as_admin),
            (INTERNAL_TOKEN_HEADER, &mesh.secret),
        ],
    );
    assert!(direct.list_users(handed_on).await.is_ok());
}
