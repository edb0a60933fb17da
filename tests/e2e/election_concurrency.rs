//! Issue 3, acceptance 5: concurrent edits by two admins never leave a half-applied state;
//! a stale write gets 409/ABORTED.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_writes_are_refused_and_no_write_is_half_applied() {
    let mesh = spawn_mesh().await;
    let (api, first) = rest_as_admin(&mesh).await;
    let second = api
        .promote(&first.access, &api.voter("second-admin").await)
        .await;

    for round in 0..5 {
        let election =
            create_election(&api, &first.access, draft_body(&format!("Race {round}"))).await;
        let id = id_of(&election);
        let version = election["version"]
            .as_str()
            .expect("uint64 as string")
            .to_owned();
        let path = format!("/v1/elections/{id}");
        let write = |token: String, who: &'static str| {
            let api = api.clone();
            let path = path.clone();
            let version = version.clone();
            async move {
                let edit = json!({"expected_version": version, "title": format!("by {who}"), "description": format!("written by {who}")});
                api.patch(&path, Some(&token), edit).await
            }
        };
        let (a, b) = tokio::join!(
            write(first.access.clone(), "first"),
            write(second.access.clone(), "second")
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "exactly one write wins: {a:?} {b:?}");
        let loser = if a.0 == 409 { &a.1 } else { &b.1 };
        assert_eq!(loser["error"]["status"], "ABORTED");
        let (_, stored) = api.get(&path, Some(&first.access)).await;
        let title = stored["election"]["title"].as_str().unwrap_or_default();
        let who = title.trim_start_matches("by ");
        assert_eq!(
            stored["election"]["description"],
            format!("written by {who}"),
            "both fields from one writer"
        );

        // Opening races removing a candidate: one of them wins, never both.
        let ada = add_candidate(&api, &first.access, &id, "Ada").await;
        add_candidate(&api, &first.access, &id, "Bob").await;
        let remove_path = format!("{path}/candidates/{ada}");
        let (open, remove) = tokio::join!(
            transition(&api, &first.access, &id, "ELECTION_STATUS_OPEN"),
            api.delete(&remove_path, Some(&second.access))
        );
        let (_, candidates) = api
            .get(&format!("{path}/candidates"), Some(&first.access))
            .await;
        let count = candidates["candidates"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default();
        match (open.0, remove.0) {
            (200, 412) => assert_eq!(count, 2, "opened with both candidates"),
            (412, 200) => {
                assert_eq!(count, 1);
                assert_eq!(
                    status_of(&api, &first.access, &id).await,
                    "ELECTION_STATUS_DRAFT"
                );
            }
            other => {
                panic!("open and remove both applied or both failed: {other:?} {open:?} {remove:?}")
            }
        }
    }

    // A guarded candidate edit with a stale version is refused too.
    let id = id_of(&create_election(&api, &first.access, draft_body("Guarded edits")).await);
    let candidates = format!("/v1/elections/{id}/candidates");
    let stale_edit = json!({"candidate": {"name": "X"}, "expected_version": "99"});
    let stale = api.post(&candidates, Some(&first.access), stale_edit).await;
    assert_eq!(error(&stale, "status"), (409, Some("ABORTED")));
    let (_, listed) = api.get(&candidates, Some(&first.access)).await;
    assert_eq!(listed["candidates"], json!([]));
}
