//! Invitations and reminders asked for at the same moment, on SQLite as `votemesh up` runs:
//! each is answered (none fails with "database is locked"), found by schemathesis.

use futures::{stream, StreamExt};
use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invitations_and_reminders_all_succeed_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = MeshOptions {
        user: Instances::one(),
        candidate: Instances::one(),
        ..Default::default()
    };
    let mesh = spawn_mesh_on(Database::SqliteDir(dir.path().to_owned()), options).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let mut body = draft_body("Busy roll");
    body["election"]["eligibility"] = json!("ELIGIBILITY_ROLL");
    let (id, _) = election_with(&api, &admin.access, body, &["Ada", "Bob"]).await;
    let csv = (0..20)
        .map(|i| format!("member{i}@example.org\n"))
        .collect();
    let (status, report) = api
        .post_csv(
            &format!("/v1/elections/{id}/roll:import"),
            &admin.access,
            csv,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    transition_ok(&api, &admin.access, &id, "ELECTION_STATUS_OPEN").await;
    let calls = (0..24).map(|i| {
        let action = if i % 2 == 0 { "invite" } else { "remind" };
        format!("/v1/elections/{id}/roll:{action}")
    });
    let statuses: Vec<(u16, serde_json::Value)> = stream::iter(calls)
        .map(|path| {
            let (api, token) = (api.clone(), admin.access.clone());
            async move { api.post(&path, Some(&token), json!({})).await }
        })
        .buffer_unordered(24)
        .collect()
        .await;
    let failed: Vec<_> = statuses
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 24 failed: {failed:?}",
        failed.len()
    );
}
