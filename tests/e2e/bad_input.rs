//! Acceptance 6: bad input gets a 4xx or INVALID_ARGUMENT, changes nothing, and the
//! services stay up.

use reqwest::Method;
use serde_json::json;

use crate::{grpc_web::post_grpc_web, support::*};

/// Sends one raw native-gRPC request over h2c and returns the grpc-status it got.
async fn raw_grpc(base: &str, path: &str, frame: Vec<u8>) -> (u16, Option<String>) {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("h2c client");
    let headers = [("content-type", "application/grpc"), ("te", "trailers")];
    let response = post_raw(&client, &format!("{base}{path}"), &headers, frame).await;
    let status = response.status().as_u16();
    let grpc_status = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, grpc_status)
}

/// A frame that claims a 100-byte string field but holds one byte: undecodable protobuf.
fn garbage_frame() -> Vec<u8> {
    let junk = [0x0a, 0x64, 0x01];
    let mut frame = vec![0u8];
    frame.extend((junk.len() as u32).to_be_bytes());
    frame.extend(junk);
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_mistakes_get_clear_400s_and_change_nothing() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let raw = |body: &'static str| {
        api.client
            .post(format!("{}/v1/auth/register", mesh.edge_url))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = raw("{\"email\": ").await.expect("answer");
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("json error");
    assert_eq!(
        (
            body["error"]["status"].as_str(),
            body["error"]["field"].as_str()
        ),
        (Some("INVALID_ARGUMENT"), Some("body"))
    );

    let address = email("short");
    for (body, field) in [
        (json!({"email": ["a"], "password": PASSWORD}), "email"),
        (json!({"email": "x@y.org", "colour": "red"}), "colour"),
        (json!([1, 2, 3]), "body"),
        (
            json!({"email": address, "password": "short", "display_name": "S"}),
            "password",
        ),
        (
            json!({"email": address, "password": PASSWORD, "display_name": "  "}),
            "display_name",
        ),
    ] {
        let reply = api.post("/v1/auth/register", None, body).await;
        assert_eq!(error(&reply, "field"), (400, Some(field)), "{}", reply.1);
    }
    let (status, _) = api.try_login(&address, PASSWORD).await;
    assert_eq!(status, 401, "refused registrations stored nothing");

    assert_eq!(api.get("/v1/no/such/route", None).await.0, 404);
    assert_eq!(api.call(Method::DELETE, "/v1/me", None, None).await.0, 405);
    let admin = api.admin().await;
    for page in ["page_size=many", "page_size=1000"] {
        let reply = api
            .get(&format!("/v1/admin/users?{page}"), Some(&admin.access))
            .await;
        assert_eq!(error(&reply, "field"), (400, Some("page_size")), "{page}");
    }
    let (status, body) = api
        .get("/v1/admin/users?page_token=%%%", Some(&admin.access))
        .await;
    assert_eq!(status, 400, "{body}");

    let oversized =
        json!({"email": "big@example.org", "password": "x".repeat(2 << 20), "display_name": "B"});
    let reply = api.post("/v1/auth/register", None, oversized).await;
    assert_eq!(error(&reply, "field"), (413, Some("body")));
    // A new client: the 413 above closed its connection without reading the whole body.
    let response = reqwest::Client::new()
        .get(format!("{}/v1/me", mesh.edge_url))
        .header("x-padding", "p".repeat(20 << 10))
        .send()
        .await
        .unwrap_or_else(|error| panic!("no answer to oversized headers: {error:?}"));
    assert_eq!(response.status(), 431);

    still_serving(&api).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_grpc_web_garbage_is_refused_without_harm() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    for base in [mesh.edge_url.as_str(), mesh.instances.user[0].as_str()] {
        let (status, grpc_status) = raw_grpc(
            base,
            "/votemesh.user.v1.UserService/Register",
            garbage_frame(),
        )
        .await;
        assert_eq!(
            (status, grpc_status.as_deref()),
            (200, Some("3")),
            "garbage protobuf at {base}"
        );
    }
    let (_, unknown) = raw_grpc(
        &mesh.edge_url,
        "/votemesh.user.v1.UserService/Nope",
        garbage_frame(),
    )
    .await;
    assert_eq!(
        unknown.as_deref(),
        Some("12"),
        "unknown methods are UNIMPLEMENTED"
    );

    // Undecodable grpc-web is refused, over HTTP or in the trailers; a truncated message is
    // the client's mistake, INVALID_ARGUMENT.
    for (what, content_type, body, exact) in [
        (
            "broken base64",
            "application/grpc-web-text",
            b"%%%this is not base64%%%".to_vec(),
            None,
        ),
        (
            "truncated frame",
            "application/grpc-web+proto",
            vec![0, 0, 0, 0, 100, 1, 2, 3],
            Some(3),
        ),
    ] {
        let login = "/votemesh.user.v1.UserService/Login";
        let reply = post_grpc_web(&mesh.edge_url, login, content_type, body, None).await;
        let (http, grpc) = (reply.http_status, reply.grpc_status);
        assert!(
            (400..500).contains(&http) || (http == 200 && grpc.is_some_and(|s| s != 0)),
            "{what}: HTTP {http} grpc {grpc:?}"
        );
        if exact.is_some() {
            assert_eq!(grpc, exact, "{what}");
        }
    }

    still_serving(&api).await;
}

async fn still_serving(api: &Rest) {
    let session = api.voter("after").await;
    assert_eq!(api.get("/v1/me", Some(&session.access)).await.0, 200);
}
