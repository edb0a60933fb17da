//! Acceptance 4: a login burst from one client is limited while another client is served.
//! Clients are told apart by source address: 127.0.0.1 bursts, 127.0.0.2 and 127.0.0.3 stay calm.

use std::net::{IpAddr, Ipv4Addr};

use proto_gen::user::v1::{user_service_client::UserServiceClient, LoginRequest};
use serde_json::json;
use tonic::{transport::Endpoint, Code};

use crate::support::*;

fn from(last_octet: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet))
}

fn rest_from(base: &str, source: IpAddr) -> Rest {
    Rest {
        base: base.to_owned(),
        client: reqwest::Client::builder()
            .local_address(source)
            .build()
            .expect("client"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_burst_is_limited_per_client() {
    let mesh = spawn_mesh_with(MeshOptions {
        user: Instances::one(),
        edge: Box::new(|config| {
            config.credentials_per_minute = 6.0;
            config.credentials_burst = 3.0;
        }),
        ..Default::default()
    })
    .await;
    let admin_setup = rest_from(&mesh.edge_url, from(9));
    let address = email("burst");
    admin_setup.register(&address).await;

    let noisy = rest_from(&mesh.edge_url, from(1));
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let response = noisy
            .client
            .post(format!("{}/v1/auth/login", mesh.edge_url))
            .json(&json!({"email": address, "password": PASSWORD}))
            .send()
            .await
            .expect("answer");
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
        }
    }
    assert_eq!(
        &statuses[..3],
        &[200, 200, 200],
        "the burst allowance is served: {statuses:?}"
    );
    assert!(
        statuses[3..].iter().all(|s| *s == 429),
        "then limited: {statuses:?}"
    );
    assert!(
        retry_after.is_some_and(|s| s >= 1),
        "429 carries Retry-After"
    );

    let calm = rest_from(&mesh.edge_url, from(2));
    calm.login(&address, PASSWORD).await;

    // The limit is on credentials only: the limited client can still use its session.
    let session = calm.login(&address, PASSWORD).await;
    assert_eq!(noisy.get("/v1/me", Some(&session.access)).await.0, 200);

    // Over gRPC the same bucket answers RESOURCE_EXHAUSTED, and a third client is served.
    let limited = grpc_login_from(&mesh.edge_url, from(1), &address)
        .await
        .expect_err("still limited");
    assert_eq!(limited.code(), Code::ResourceExhausted);
    grpc_login_from(&mesh.edge_url, from(3), &address)
        .await
        .expect("another client is served");
}

/// A login over native gRPC from `source`.
async fn grpc_login_from(
    edge: &str,
    source: IpAddr,
    email: &str,
) -> Result<tonic::Response<proto_gen::user::v1::LoginResponse>, tonic::Status> {
    let channel = Endpoint::from_shared(edge.to_owned())
        .expect("endpoint")
        .local_address(Some(source))
        .connect()
        .await
        .expect("connect");
    UserServiceClient::new(channel)
        .login(LoginRequest {
            email: email.to_owned(),
            password: PASSWORD.into(),
        })
        .await
}

/// Behind a trusted proxy (127.0.0.1 here), clients are told apart by X-Forwarded-For;
/// anyone else's X-Forwarded-For is ignored, so rotating it buys nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_a_trusted_proxy_names_is_limited_and_nobody_else_can_name_one() {
    let mesh = spawn_mesh_with(MeshOptions {
        user: Instances::one(),
        edge: Box::new(|config| {
            config.credentials_per_minute = 6.0;
            config.credentials_burst = 3.0;
            config.trusted_proxies = "127.0.0.1".into();
        }),
        ..Default::default()
    })
    .await;
    let address = email("proxied");
    rest_from(&mesh.edge_url, from(9)).register(&address).await;
    let login = |source: u8, forwarded: String| {
        let base = mesh.edge_url.clone();
        let address = address.clone();
        async move {
            rest_from(&base, from(source))
                .client
                .post(format!("{base}/v1/auth/login"))
                .header("x-forwarded-for", forwarded)
                .json(&json!({"email": address, "password": PASSWORD}))
                .send()
                .await
                .expect("answer")
                .status()
                .as_u16()
        }
    };
    let mut noisy = Vec::new();
    for _ in 0..6 {
        noisy.push(login(1, "198.51.100.1, 203.0.113.1".into()).await);
    }
    assert!(
        noisy.contains(&429),
        "the proxied client is limited: {noisy:?}"
    );
    assert_eq!(
        login(1, "203.0.113.2".into()).await,
        200,
        "another client behind the same proxy is not"
    );
    let mut spoofing = Vec::new();
    for i in 0..6 {
        spoofing.push(login(2, format!("203.0.113.{}", 100 + i)).await);
    }
    assert!(
        spoofing.contains(&429),
        "an untrusted peer cannot rotate its way out: {spoofing:?}"
    );
}
