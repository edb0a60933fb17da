//! Acceptance 1, grpc-web: calls framed as a browser's grpc-web client sends them, over
//! HTTP/1.1 with `application/grpc-web+proto`.

use prost::Message;
use proto_gen::user::v1::{
    ChangePasswordRequest, GetMeRequest, GetMeResponse, LoginRequest, LoginResponse, LogoutRequest,
    LogoutResponse, RefreshRequest, RefreshResponse, RegisterRequest, RegisterResponse,
    UpdateMeRequest, UpdateMeResponse,
};

use crate::support::*;

/// One grpc-web answer: the message frame, if any, and the status from the trailers.
pub struct WebReply {
    pub http_status: u16,
    pub grpc_status: Option<i32>,
    pub grpc_message: String,
    pub data: Option<Vec<u8>>,
}

pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend((message.len() as u32).to_be_bytes());
    out.extend(message);
    out
}

fn trailer_value<'a>(trailers: &'a str, name: &str) -> Option<&'a str> {
    trailers.split("\r\n").find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Sends a raw grpc-web body over HTTP/1.1, as a browser's grpc-web client does; the
/// response, unread.
pub async fn send_grpc_web(
    base: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .http1_only()
        .build()
        .expect("client");
    let mut headers = vec![
        ("content-type", content_type),
        ("x-grpc-web", "1"),
        ("accept", content_type),
    ];
    let authorization = token.map(|token| format!("Bearer {token}"));
    if let Some(authorization) = &authorization {
        headers.push(("authorization", authorization));
    }
    post_raw(&client, &format!("{base}{path}"), &headers, body).await
}

/// Posts a raw grpc-web body and parses data and trailer frames.
pub async fn post_grpc_web(
    base: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> WebReply {
    let response = send_grpc_web(base, path, content_type, body, token).await;
    let http_status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut grpc_status = header("grpc-status").and_then(|s| s.parse().ok());
    let mut grpc_message = header("grpc-message").unwrap_or_default();
    let bytes = response.bytes().await.unwrap_or_default().to_vec();
    let mut data = None;
    let mut rest = bytes.as_slice();
    while rest.len() >= 5 {
        let flag = rest[0];
        let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let Some(payload) = rest.get(5..5 + length) else {
            break;
        };
        if flag & 0x80 != 0 {
            let trailers = String::from_utf8_lossy(payload);
            grpc_status = trailer_value(&trailers, "grpc-status").and_then(|s| s.parse().ok());
            grpc_message = trailer_value(&trailers, "grpc-message")
                .unwrap_or_default()
                .to_owned();
        } else {
            data = Some(payload.to_vec());
        }
        rest = &rest[5 + length..];
    }
    WebReply {
        http_status,
        grpc_status,
        grpc_message,
        data,
    }
}

async fn call<Req: Message, Res: Message + Default>(
    base: &str,
    method: &str,
    request: Req,
    token: Option<&str>,
) -> Result<Res, (i32, String)> {
    let path = format!("/votemesh.user.v1.UserService/{method}");
    let reply = post_grpc_web(
        base,
        &path,
        "application/grpc-web+proto",
        frame(&request.encode_to_vec()),
        token,
    )
    .await;
    assert_eq!(
        reply.http_status, 200,
        "grpc-web answers 200 and carries the status in trailers"
    );
    match (reply.grpc_status, reply.data) {
        (Some(0), Some(data)) => Ok(Res::decode(data.as_slice()).expect("response decodes")),
        (status, _) => Err((status.unwrap_or(-1), reply.grpc_message)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_lives_a_whole_session_over_grpc_web() {
    let mesh = spawn_mesh().await;
    let base = mesh.edge_url.as_str();
    let address = email("web");

    let registered: RegisterResponse = call(
        base,
        "Register",
        RegisterRequest {
            email: address.clone(),
            password: PASSWORD.into(),
            display_name: "Webby".into(),
        },
        None,
    )
    .await
    .expect("register");
    let user_id = registered.user.expect("user").user_id;

    let login: LoginResponse = call(
        base,
        "Login",
        LoginRequest {
            email: address.clone(),
            password: PASSWORD.into(),
        },
        None,
    )
    .await
    .expect("login");
    let me: GetMeResponse = call(base, "GetMe", GetMeRequest {}, Some(&login.access_token))
        .await
        .expect("me");
    assert_eq!(me.user.expect("user").user_id, user_id);
    let denied = call::<_, GetMeResponse>(base, "GetMe", GetMeRequest {}, None)
        .await
        .expect_err("no token");
    assert_eq!(denied.0, tonic::Code::Unauthenticated as i32);

    let updated: UpdateMeResponse = call(
        base,
        "UpdateMe",
        UpdateMeRequest {
            display_name: Some("Webby W.".into()),
            ..Default::default()
        },
        Some(&login.access_token),
    )
    .await
    .expect("update");
    assert_eq!(updated.user.expect("user").display_name, "Webby W.");

    let refreshed: RefreshResponse = call(
        base,
        "Refresh",
        RefreshRequest {
            refresh_token: login.refresh_token.clone(),
        },
        None,
    )
    .await
    .expect("refresh");
    let _: proto_gen::user::v1::ChangePasswordResponse = call(
        base,
        "ChangePassword",
        ChangePasswordRequest {
            current_password: PASSWORD.into(),
            new_password: "web password number two".into(),
        },
        Some(&refreshed.access_token),
    )
    .await
    .expect("change password");
    let relogin: LoginResponse = call(
        base,
        "Login",
        LoginRequest {
            email: address,
            password: "web password number two".into(),
        },
        None,
    )
    .await
    .expect("login with the new password");
    let _: LogoutResponse = call(
        base,
        "Logout",
        LogoutRequest {
            refresh_token: relogin.refresh_token.clone(),
            all_sessions: false,
        },
        Some(&relogin.access_token),
    )
    .await
    .expect("logout");
    let spent = call::<_, RefreshResponse>(
        base,
        "Refresh",
        RefreshRequest {
            refresh_token: relogin.refresh_token,
        },
        None,
    )
    .await
    .expect_err("logged out");
    assert_eq!(spent.0, tonic::Code::Unauthenticated as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_cors_answers_for_grpc_web() {
    let mesh = spawn_mesh().await;
    let response = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/votemesh.user.v1.UserService/Login", mesh.edge_url),
        )
        .header("origin", "http://app.example.org")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-grpc-web,authorization",
        )
        .send()
        .await
        .expect("preflight answered");
    assert!(response.status().is_success());
    let allowed_origin = response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok());
    assert_eq!(allowed_origin, Some("http://app.example.org"));
    let allowed_headers = response
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_lowercase();
    assert!(allowed_headers.contains("x-grpc-web") && allowed_headers.contains("authorization"));
}
