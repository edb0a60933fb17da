//! Issue 3, acceptance 4: a voter cannot create, edit or open an election, and a signed-out
//! caller cannot list voter rolls.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voters_cannot_change_elections_and_strangers_cannot_read_rolls() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let voter = api.voter("nosy").await;
    let election = create_election(&api, &admin.access, draft_body("Guarded")).await;
    let id = election["election_id"].as_str().expect("id").to_owned();
    let candidate = add_candidate(&api, &admin.access, &id, "Ada").await;
    add_candidate(&api, &admin.access, &id, "Bob").await;

    let (status, _) = api
        .post("/v1/elections", Some(&voter.access), draft_body("Mine"))
        .await;
    assert_eq!(status, 403);
    let attempts = [
        (
            Method::PATCH,
            format!("/v1/elections/{id}"),
            Some(json!({"title": "Hijacked"})),
        ),
        (
            Method::POST,
            format!("/v1/elections/{id}/transition"),
            Some(json!({"target": "ELECTION_STATUS_OPEN"})),
        ),
        (
            Method::POST,
            format!("/v1/elections/{id}/candidates"),
            Some(json!({"candidate": {"name": "Me"}})),
        ),
        (
            Method::DELETE,
            format!("/v1/elections/{id}/candidates/{candidate}"),
            None,
        ),
        (Method::GET, format!("/v1/elections/{id}/roll"), None),
        (Method::GET, format!("/v1/elections/{id}/roll:count"), None),
    ];
    for (method, path, body) in attempts.iter().cloned() {
        let (status, reply) = api
            .call(method.clone(), &path, Some(&voter.access), body.clone())
            .await;
        assert_eq!(
            (status, reply["error"]["status"].as_str()),
            (403, Some("PERMISSION_DENIED")),
            "{method} {path}"
        );
        let (status, _) = api.call(method.clone(), &path, None, body).await;
        assert_eq!(status, 401, "signed out: {method} {path}");
    }
    let (_, after) = api
        .get(&format!("/v1/elections/{id}"), Some(&voter.access))
        .await;
    assert_eq!(after["election"]["title"], "Guarded");
    assert_eq!(after["election"]["status"], "ELECTION_STATUS_DRAFT");
    let (status, _) = api
        .get(&format!("/v1/elections/{id}/candidates"), None)
        .await;
    assert_eq!(status, 401, "even candidates need a signed-in caller");
}

/// Polls `check` until it holds, for at most five seconds: disabling and demoting are
/// confirmed with svc-user at most every two seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..50 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} never took effect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_or_demoting_takes_effect_beyond_svc_user() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let deputy = api.voter("deputy").await;
    let role = format!("/v1/admin/users/{}/role", deputy.user_id);
    assert_eq!(
        api.post(&role, Some(&admin.access), json!({"role": "ROLE_ADMIN"}))
            .await
            .0,
        200
    );
    let deputy = api.login(&deputy.email, PASSWORD).await;
    create_election(&api, &deputy.access, draft_body("Before demotion")).await;

    assert_eq!(
        api.post(&role, Some(&admin.access), json!({"role": "ROLE_VOTER"}))
            .await
            .0,
        200
    );
    eventually("demotion at the edge", || async {
        api.post("/v1/elections", Some(&deputy.access), draft_body("After"))
            .await
            .0
            == 403
    })
    .await;
    let direct = proto_gen::election::v1::election_service_client::ElectionServiceClient::connect(
        mesh.candidate_urls[0].clone(),
    )
    .await
    .expect("connect");
    // svc-candidate confirms accounts itself, with its own two-second cache.
    let probe = proto_gen::election::v1::ListRollRequest {
        election_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    eventually("demotion at svc-candidate", || {
        let mut direct = direct.clone();
        let request = bearer(probe.clone(), &deputy.access);
        async move {
            direct
                .list_roll(request)
                .await
                .is_err_and(|status| status.code() == tonic::Code::PermissionDenied)
        }
    })
    .await;

    let voter = api.voter("soon-disabled").await;
    assert_eq!(api.get("/v1/elections", Some(&voter.access)).await.0, 200);
    let disable = format!("/v1/admin/users/{}/disable", voter.user_id);
    assert_eq!(
        api.post(&disable, Some(&admin.access), json!({"disabled": true}))
            .await
            .0,
        200
    );
    eventually("disabling at the edge", || async {
        api.get("/v1/elections", Some(&voter.access)).await.0 == 401
    })
    .await;
}
