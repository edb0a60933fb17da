//! Issue 15, overload: past its bound the edge, and any service, refuses at once with
//! RESOURCE_EXHAUSTED and a retry hint (503 with Retry-After over REST) while what it took
//! goes through and is kept; a flood of sign-ins is refused past svc-user's hash queue while
//! votes go on; gRPC and grpc-web messages have the edge's size limit, as REST bodies do.

use futures::{stream, StreamExt};
use prost::Message;
use proto_gen::user::v1::LoginRequest;
use serde_json::json;
use tonic::Code;

use crate::{
    grpc_web::{frame, post_grpc_web},
    support::{ballots::*, *},
};

/// What `n` logins sent all at once over REST answered: (status, Retry-After, message).
async fn login_flood(api: &Rest, email: &str, n: usize) -> Vec<(u16, Option<String>, String)> {
    stream::iter(0..n)
        .map(|_| async {
            let response = api
                .client
                .post(format!("{}/v1/auth/login", api.base))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .expect("an answer");
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let message = body["error"]["message"].as_str().unwrap_or("").to_owned();
            (status, retry_after, message)
        })
        .buffer_unordered(n)
        .collect()
        .await
}

/// `n` signed-in voters, one at a time: set-up must stay inside the bounds under test.
async fn voters_one_by_one(api: &Rest, n: usize, tag: &str) -> Vec<Session> {
    let mut voters = Vec::with_capacity(n);
    for i in 0..n {
        voters.push(api.voter(&format!("{tag}{i}")).await);
    }
    voters
}

/// An open two-candidate plurality election with live results.
async fn plurality(api: &Rest, admin: &str) -> OpenElection {
    open_election(
        api,
        admin,
        "BALLOT_METHOD_PLURALITY",
        2,
        "RESULTS_VISIBILITY_LIVE",
    )
    .await
}

/// One cast per voter in `election`.
fn one_cast_each(election: &OpenElection, voters: &[Session]) -> Vec<Job> {
    voters
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                election.id.clone(),
                selection(election, i),
                v.access.clone(),
            )
        })
        .collect()
}

/// Every answer was a success or a prompt, hinted refusal; returns how many were refused.
fn refused_with_hint(answers: &[(u16, Option<String>, String)], says: &str) -> usize {
    for (status, retry_after, message) in answers {
        match status {
            200 => {}
            503 => {
                assert_eq!(retry_after.as_deref(), Some("1"), "{message}");
                assert!(message.contains(says), "{message}");
            }
            other => panic!("{other}: {message}"),
        }
    }
    answers.iter().filter(|(status, ..)| *status == 503).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_its_bound_the_edge_refuses_at_once_and_keeps_every_vote_it_took() {
    let mesh = spawn_mesh_with(MeshOptions {
        user: Instances::one(),
        candidate: Instances::one(),
        voting: Instances::one(),
        edge: Box::new(|config| {
            config.common.max_in_flight = 3;
            unthrottled_voters(config);
        }),
        ..Default::default()
    })
    .await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let address = email("flood");
    api.register(&address).await;

    // Each login costs an argon2 hash, so 30 at once hold the edge's three places.
    let answers = login_flood(&api, &address, 30).await;
    let refused = refused_with_hint(&answers, "edge is at capacity");
    assert!(refused > 0, "some were refused: {answers:?}");
    assert!(
        refused < 30,
        "and the ones it took were served: {answers:?}"
    );

    // Over native gRPC the refusal is RESOURCE_EXHAUSTED with retry-after in its metadata.
    let client = user_client(&mesh.edge_url).await;
    let outcomes: Vec<Result<_, tonic::Status>> = stream::iter(0..30)
        .map(|_| {
            let mut client = client.clone();
            let address = address.clone();
            async move {
                client
                    .login(LoginRequest {
                        email: address,
                        password: PASSWORD.into(),
                    })
                    .await
            }
        })
        .buffer_unordered(30)
        .collect()
        .await;
    let shed: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(!shed.is_empty(), "some gRPC logins were refused");
    for status in &shed {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert_eq!(
            status
                .metadata()
                .get("retry-after")
                .map(|v| v.to_str().ok()),
            Some(Some("1"))
        );
    }

    // Casts past the bound are refused or kept, never lost: accepted = recorded.
    let election = plurality(&api, &admin.access).await;
    let jobs = one_cast_each(&election, &voters_one_by_one(&api, 40, "shed").await);
    let outcomes = cast_all(&mesh.edge_url, jobs, 40).await;
    for outcome in &outcomes {
        if let Err(status) = outcome {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        }
    }
    let accepted = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
    assert!(accepted > 0);
    let mut voting = voting_client(&mesh.edge_url);
    let (_, participations) = recorded(&mut voting, &election.id, &admin.access).await;
    assert_eq!(participations, accepted, "every accepted cast is recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_past_its_bound_refuses_and_rest_says_503_with_retry_after() {
    let mesh = spawn_mesh_with(MeshOptions {
        user: Instances {
            count: 1,
            configure: Box::new(|config| config.common.max_in_flight = 2),
        },
        ..Default::default()
    })
    .await;
    let api = Rest::new(&mesh.edge_url);
    let address = email("busy");
    api.register(&address).await;
    let answers = login_flood(&api, &address, 30).await;
    let refused = refused_with_hint(&answers, "at capacity");
    assert!(refused > 0 && refused < 30, "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_flood_is_refused_past_the_hash_queue_while_votes_go_on() {
    let mesh = spawn_mesh_with(MeshOptions {
        user: Instances {
            count: 1,
            configure: Box::new(|config| {
                config.hash_concurrency = Some(1);
                config.hash_queue = 2;
            }),
        },
        candidate: Instances::one(),
        voting: Instances::one(),
        edge: Box::new(unthrottled_voters),
        ..Default::default()
    })
    .await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let election = plurality(&api, &admin.access).await;
    let voters = voters_one_by_one(&api, 10, "steady").await;
    let address = email("signin-flood");
    api.register(&address).await;

    let flood = login_flood(&api, &address, 40);
    let jobs = one_cast_each(&election, &voters);
    let votes = cast_all(&mesh.edge_url, jobs, 4);
    let (answers, votes) = tokio::join!(flood, votes);
    let refused = refused_with_hint(&answers, "too many sign-ins at once");
    assert!(refused > 0 && refused < 40, "{answers:?}");
    assert!(
        votes.iter().all(Result::is_ok),
        "every vote went through the flood: {votes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_grpc_web_messages_past_the_edge_limit_are_refused() {
    let mesh = spawn_mesh_with(MeshOptions {
        user: Instances::one(),
        edge: Box::new(|config| config.max_body_bytes = 512),
        ..Default::default()
    })
    .await;
    let mut client = user_client(&mesh.edge_url).await;
    let large = LoginRequest {
        email: "a".repeat(600),
        password: PASSWORD.into(),
    };
    let refused = client.login(large.clone()).await.expect_err("too large");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("larger than 512 bytes"));
    let small = LoginRequest {
        email: "nobody@example.org".into(),
        password: PASSWORD.into(),
    };
    let within = client.login(small).await.expect_err("unknown account");
    assert_eq!(within.code(), Code::Unauthenticated, "passed the limit");

    let reply = post_grpc_web(
        &mesh.edge_url,
        "/votemesh.user.v1.UserService/Login",
        "application/grpc-web+proto",
        frame(&large.encode_to_vec()),
        None,
    )
    .await;
    assert_eq!(reply.http_status, 200);
    assert_eq!(
        reply.grpc_status,
        Some(Code::ResourceExhausted as i32),
        "over grpc-web too: {}",
        reply.grpc_message
    );
}

/// The edge's HTTP/2 side: it advertises its bound on concurrent streams, and a client that
/// opens and at once resets stream after stream (rapid reset) is cut off with GOAWAY while
/// everyone else is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_bounds_http2_streams_and_cuts_off_a_rapid_reset_flood() {
    let mesh = spawn_mesh_with(MeshOptions::default()).await;
    let address = mesh.edge_url.trim_start_matches("http://").to_owned();
    let healthz = format!("{}/healthz", mesh.edge_url);
    let tcp = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let (client, connection) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let connection = tokio::spawn(connection);
    let mut client = client.ready().await.expect("ready");
    let request = || {
        axum::http::Request::get(healthz.as_str())
            .body(())
            .expect("request")
    };
    let (response, _) = client.send_request(request(), true).expect("a request");
    assert_eq!(response.await.expect("an answer").status(), 200);
    assert_eq!(
        client.current_max_send_streams(),
        kit::server::MAX_CONCURRENT_STREAMS as usize
    );

    let mut sent = 0;
    for _ in 0..5_000 {
        let Ok(ready) = client.clone().ready().await else {
            break;
        };
        client = ready;
        let Ok((_, mut stream)) = client.send_request(request(), false) else {
            break;
        };
        stream.send_reset(h2::Reason::CANCEL);
        sent += 1;
    }
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), connection)
        .await
        .expect("the connection was closed")
        .expect("join");
    let error = ended.expect_err("closed for the flood, not cleanly");
    // The edge sends GOAWAY (ENHANCE_YOUR_CALM) and closes; a client still writing its
    // flood may hit the closed socket before it reads the GOAWAY.
    assert!(
        error.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM) || error.is_io(),
        "after {sent} resets: {error}"
    );
    assert!(sent < 5_000, "cut off before the flood ended");
    let served = reqwest::get(&healthz).await.expect("another client");
    assert_eq!(served.status(), 200, "everyone else is served");
}
