//! Issue 15, fuzzing: grpc-web bodies of every shape (binary and text, framed or not, valid
//! messages with junk around them) sent to the edge for real methods and made-up ones. Each
//! is answered as a client mistake or served, never a server error, and the edge stays up.

use base64::{engine::general_purpose::STANDARD, Engine};
use proptest::{prelude::*, test_runner::TestRunner};

use crate::{grpc_web::frame, support::*};

const METHODS: &[&str] = &[
    "/votemesh.user.v1.UserService/Login",
    "/votemesh.user.v1.UserService/Register",
    "/votemesh.election.v1.ElectionService/ListElections",
    "/votemesh.voting.v1.VotingService/CastBallot",
    "/votemesh.voting.v1.VotingService/VerifyReceipt",
    "/votemesh.result.v1.ResultService/GetResults",
    "/votemesh.user.v1.UserService/NoSuchMethod",
    "/no.such.Service/Call",
];

/// gRPC statuses that would mean the server, not the client, failed.
const SERVER_FAULTS: &[i32] = &[2, 13, 15];

fn body() -> impl Strategy<Value = Vec<u8>> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..200);
    prop_oneof![
        bytes.clone(),
        bytes.clone().prop_map(|message| frame(&message)),
        (bytes.clone(), bytes.clone()).prop_map(|(a, b)| [frame(&a), b].concat()),
        (any::<u32>(), bytes).prop_map(|(length, rest)| {
            let mut framed = vec![0u8];
            framed.extend(length.to_be_bytes());
            framed.extend(rest);
            framed
        }),
    ]
}

#[test]
fn any_grpc_web_body_is_served_or_refused_as_a_client_mistake() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mesh = runtime.block_on(spawn_mesh_with(MeshOptions {
        user: Instances::one(),
        candidate: Instances::one(),
        voting: Instances::one(),
        result: Instances::one(),
        ..Default::default()
    }));
    // Found by this fuzzer once: a unary call whose body holds no message at all.
    let empty = runtime.block_on(crate::grpc_web::post_grpc_web(
        &mesh.edge_url,
        "/votemesh.user.v1.UserService/Login",
        "application/grpc-web+proto",
        Vec::new(),
        None,
    ));
    assert_eq!(
        empty.grpc_status,
        Some(tonic::Code::InvalidArgument as i32),
        "an empty body: {}",
        empty.grpc_message
    );
    let strategy = (
        prop::sample::select(METHODS),
        body(),
        any::<bool>(),
        prop::option::of("[A-Za-z0-9._-]{0,40}"),
    );
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    TestRunner::new(config)
        .run(&strategy, |(method, body, text, token)| {
            let (content_type, body) = match text {
                true => (
                    "application/grpc-web-text",
                    STANDARD.encode(&body).into_bytes(),
                ),
                false => ("application/grpc-web+proto", body),
            };
            let reply = runtime.block_on(crate::grpc_web::post_grpc_web(
                &mesh.edge_url,
                method,
                content_type,
                body,
                token.as_deref(),
            ));
            prop_assert!(
                reply.http_status < 500,
                "{method}: HTTP {}",
                reply.http_status
            );
            if let Some(code) = reply.grpc_status {
                prop_assert!(
                    !SERVER_FAULTS.contains(&code),
                    "{method}: grpc-status {code}: {}",
                    reply.grpc_message
                );
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
    let (status, _) = runtime.block_on(Rest::new(&mesh.edge_url).get("/healthz", None));
    assert_eq!(status, 200, "the edge is still up");
}
