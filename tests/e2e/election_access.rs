//! Issue 3, acceptance 4: a voter cannot create, edit or open an election, and a signed-out
//! caller cannot list voter rolls.

use std::time::Duration;

use kit::auth::ACCOUNT_STATUS_TTL;
use reqwest::Method;
use serde_json::json;
use tokio::time::Instant;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voters_cannot_change_elections_and_strangers_cannot_read_rolls() {
    let mesh = spawn_mesh().await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let voter = api.voter("nosy").await;
    let (id, candidates) =
        election_with(&api, &admin.access, draft_body("Guarded"), &["Ada", "Bob"]).await;
    let candidate = &candidates[0];

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

/// How long a disabling or demotion may take to reach every service: each caches an
/// account's status for [`ACCOUNT_STATUS_TTL`], and one lookup that began just before the
/// change may answer with the old status and keep it that long from its answer.
fn revocation_deadline(changed: Instant) -> Instant {
    /// A lookup's round trip, and the polling step.
    const MARGIN: Duration = Duration::from_millis(500);
    changed + ACCOUNT_STATUS_TTL + MARGIN
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_or_demoting_takes_effect_beyond_svc_user() {
    let mesh = spawn_mesh().await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let deputy = api.promote(&admin.access, &api.voter("deputy").await).await;
    create_election(&api, &deputy.access, draft_body("Before demotion")).await;

    let (status, _) = api
        .set_role(&admin.access, &deputy.user_id, "ROLE_VOTER")
        .await;
    assert_eq!(status, 200);
    let demoted = revocation_deadline(Instant::now());
    until("demotion at the edge", demoted, || async {
        api.post("/v1/elections", Some(&deputy.access), draft_body("After"))
            .await
            .0
            == 403
    })
    .await;
    let direct = proto_gen::election::v1::election_service_client::ElectionServiceClient::connect(
        mesh.instances.candidate[0].clone(),
    )
    .await
    .expect("connect");
    // svc-candidate confirms accounts itself, with its own cache, also loaded before the change.
    let probe = proto_gen::election::v1::ListRollRequest {
        election_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    };
    until("demotion at svc-candidate", demoted, || {
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
    assert_eq!(api.disable(&admin.access, &voter.user_id).await.0, 200);
    let disabled = revocation_deadline(Instant::now());
    until("disabling at the edge", disabled, || async {
        api.get("/v1/elections", Some(&voter.access)).await.0 == 401
    })
    .await;
}
