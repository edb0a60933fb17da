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
