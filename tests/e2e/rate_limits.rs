//! Acceptance 4: a login burst from one client is limited while another client is served.
//! Clients are told apart by source address: 127.0.0.1 bursts, 127.0.0.2 and 127.0.0.3 stay calm.

use std::net::{IpAddr, Ipv4Addr};

use futures::StreamExt;
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

/// A sign-in brute force against one account from many addresses (behind a trusted proxy):
/// the account takes its burst of failures and no more, from any address; one address is
/// cut off by its own limit; the owner of another account signs in throughout, even from an
/// address the attack used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brute_force_from_many_addresses_is_held_and_others_still_sign_in() {
    let mesh = spawn_mesh_with(MeshOptions {
        user: Instances {
            count: 1,
            configure: Box::new(|config| {
                config.failed_sign_in_burst = 10.0;
                config.failed_sign_ins_per_hour = 60.0;
            }),
        },
        edge: Box::new(|config| {
            // The production defaults: 30 a minute, 10 at once, per client.
            config.credentials_per_minute = 30.0;
            config.credentials_burst = 10.0;
            config.trusted_proxies = "127.0.0.1".into();
        }),
        ..Default::default()
    })
    .await;
    let setup = rest_from(&mesh.edge_url, from(9));
    let (victim, bystander) = (email("victim"), email("bystander"));
    setup.register(&victim).await;
    setup.register(&bystander).await;
    let proxy = rest_from(&mesh.edge_url, from(1));
    let attempt = |forwarded: String, address: String, password: &'static str| {
        let proxy = proxy.clone();
        async move {
            let response = proxy
                .client
                .post(format!("{}/v1/auth/login", proxy.base))
                .header("x-forwarded-for", forwarded)
                .json(&json!({"email": address, "password": password}))
                .send()
                .await
                .expect("an answer");
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (
                status,
                body["error"]["message"].as_str().unwrap_or("").to_owned(),
            )
        }
    };

    // 200 guesses from 200 addresses, 8 at a time.
    let guesses: Vec<(u16, String)> = futures::stream::iter(0..200u32)
        .map(|i| {
            let forwarded = format!("198.51.{}.{}", 100 + i / 200, i % 200 + 1);
            attempt(forwarded, victim.clone(), "a wrong guess")
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let wrong = guesses.iter().filter(|(s, _)| *s == 401).count();
    let held: Vec<_> = guesses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(
        (10..=10 + 8).contains(&wrong),
        "the burst of failures, give or take those in flight together: {wrong}"
    );
    assert_eq!(wrong + held.len(), 200, "{guesses:?}");
    assert!(held
        .iter()
        .all(|(_, m)| m.contains("too many failed sign-ins for this account")));

    // One address alone meets its own limit first.
    let mut alone = Vec::new();
    for _ in 0..15 {
        alone.push(attempt("203.0.113.50".into(), email("nobody"), "a wrong guess").await);
    }
    assert_eq!(
        alone.iter().filter(|(s, _)| *s == 401).count(),
        10,
        "{alone:?}"
    );
    assert!(alone[10..]
        .iter()
        .all(|(s, m)| *s == 429 && m == "rate limit exceeded"));

    // Another account's owner signs in, from an address the attack used.
    let (status, message) = attempt("198.51.100.7".into(), bystander.clone(), PASSWORD).await;
    assert_eq!(status, 200, "{message}");
}
