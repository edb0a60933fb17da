//! Issue 12, exports: the results as JSON and CSV with their rounds, and after the close the
//! ballots as ABIF and BLT, which abiftool (PyPI) recounts to the same winner.

use std::process::Command;

use super::{LIVE, RANKED};
use crate::support::{ballots::*, *};

/// Tennessee's capital, a fifth of the size (Wikipedia, "Instant-runoff voting"): Memphis
/// leads the first round, Knoxville wins the runoff.
const TENNESSEE: [(usize, [usize; 4]); 4] = [
    (8, [0, 1, 2, 3]),
    (5, [1, 2, 3, 0]),
    (3, [2, 3, 1, 0]),
    (4, [3, 2, 1, 0]),
];

/// The winner abiftool's instant runoff names in an ABIF file: its token, e.g. `c4`.
fn abiftool_irv_winner(abif: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ballots.abif");
    std::fs::write(&path, abif).expect("write");
    let output = Command::new("python3")
        .args(["-m", "abiftool", "-t", "irvjson"])
        .arg(&path)
        .output()
        .expect("python3 runs (abiftool is installed by scripts/test.sh)");
    assert!(
        output.status.success(),
        "abiftool: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("irvjson");
    let winners = report["winner"].as_array().expect("winners");
    assert_eq!(winners.len(), 1, "one winner: {report}");
    winners[0].as_str().expect("a token").to_owned()
}

async fn export(api: &Rest, token: &str, path: &str) -> (u16, serde_json::Value) {
    api.get(path, Some(token)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_recount_to_the_same_winner_in_abiftool() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 1)).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let election = public_ranked_election(&api, &admin.access).await;
    let people = voters(&api, 20, "export").await;
    let mut jobs = Vec::new();
    let mut people = people.iter();
    for (count, order) in TENNESSEE {
        let ranking: Vec<String> = order
            .iter()
            .map(|&i| election.candidates[i].clone())
            .collect();
        for voter in people.by_ref().take(count) {
            jobs.push((election.id.clone(), ranking.clone(), voter.access.clone()));
        }
    }
    assert!(cast_all(&mesh.edge_url, jobs, 4)
        .await
        .iter()
        .all(Result::is_ok));
    let mut results = result_client(&mesh.edge_url).await;
    let shown = wait_for_total(&mut results, &election.id, &admin.access, 20).await;
    assert_eq!(
        shown.winner_candidate_id, election.candidates[3],
        "Knoxville"
    );

    let ballots = |format: &str| {
        format!(
            "/v1/elections/{}/results/ballots:export?format={format}",
            election.id
        )
    };
    let (status, refused) =
        export(&api, &admin.access, &ballots("BALLOT_EXPORT_FORMAT_ABIF")).await;
    assert_eq!(status, 412, "not before the close: {refused}");
    assert!(refused.to_string().contains("closed"), "{refused}");

    transition_ok(&api, &admin.access, &election.id, "ELECTION_STATUS_CLOSED").await;
    let (status, unnamed) = export(
        &api,
        &admin.access,
        &ballots("BALLOT_EXPORT_FORMAT_UNSPECIFIED"),
    )
    .await;
    assert_eq!(status, 400, "{unnamed}");
    assert!(
        unnamed.to_string().contains("format"),
        "the field is named: {unnamed}"
    );

    let (status, abif) = export(&api, &admin.access, &ballots("BALLOT_EXPORT_FORMAT_ABIF")).await;
    assert_eq!(status, 200, "{abif}");
    let abif = abif["content"].as_str().expect("content");
    assert!(
        abif.contains("=c4:[Candidate 3]") && abif.contains("8:c1>c2>c3>c4"),
        "{abif}"
    );
    assert_eq!(
        abiftool_irv_winner(abif),
        "c4",
        "abiftool names Knoxville too"
    );

    let (status, blt) = export(&api, &admin.access, &ballots("BALLOT_EXPORT_FORMAT_BLT")).await;
    assert_eq!(status, 200, "{blt}");
    let blt: Vec<&str> = blt["content"].as_str().expect("content").lines().collect();
    assert_eq!(
        blt[..6],
        [
            "4 1",
            "8 1 2 3 4 0",
            "5 2 3 4 1 0",
            "4 4 3 2 1 0",
            "3 3 4 2 1 0",
            "0"
        ]
    );
    assert_eq!(blt[6], "\"Candidate 0\"");

    let results_file = |format: &str| {
        format!(
            "/v1/elections/{}/results:export?format={format}",
            election.id
        )
    };
    let (status, json) = export(
        &api,
        &admin.access,
        &results_file("RESULTS_EXPORT_FORMAT_JSON"),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    let json: serde_json::Value =
        serde_json::from_str(json["content"].as_str().expect("content")).expect("JSON");
    assert_eq!(json["winner_candidate_id"], election.candidates[3]);
    assert_eq!(
        json["rounds"].as_array().map(Vec::len),
        Some(shown.rounds.len())
    );
    let (status, csv) = export(
        &api,
        &admin.access,
        &results_file("RESULTS_EXPORT_FORMAT_CSV"),
    )
    .await;
    assert_eq!(status, 200, "{csv}");
    let csv = csv["content"].as_str().expect("content");
    assert!(csv.starts_with(
        "round,candidate_id,candidate_name,votes,share,eliminated,question_id,weighted_votes\n"
    ));
    let first_round = format!("1,{},Candidate 0,8,", election.candidates[0]);
    assert!(csv.contains(&first_round), "{csv}");
}

/// An OPEN RANKED election with four candidates, live results and a public ballot export.
async fn public_ranked_election(api: &Rest, admin: &str) -> OpenElection {
    let mut body = draft_body("Tennessee");
    body["election"]["method"] = serde_json::json!(RANKED);
    body["election"]["results_visibility"] = serde_json::json!(LIVE);
    body["election"]["max_choices"] = serde_json::json!(4);
    body["election"]["ballot_export"] = serde_json::json!("BALLOT_EXPORT_PUBLIC");
    let (id, candidates) = election_with(
        api,
        admin,
        body,
        &["Candidate 0", "Candidate 1", "Candidate 2", "Candidate 3"],
    )
    .await;
    transition_ok(api, admin, &id, "ELECTION_STATUS_OPEN").await;
    OpenElection {
        id,
        method: RANKED,
        candidates,
    }
}

/// Who may export ballots: a voter only where the election says PUBLIC, an admin always.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballot_exports_are_for_admins_unless_the_election_makes_them_public() {
    let mesh = spawn_mesh_with(results_mesh(&Wiring::fresh(), 1)).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let reader = api.voter("export-reader").await;
    let private = open_election(&api, &admin.access, RANKED, 2, LIVE).await;
    let public = public_ranked_election(&api, &admin.access).await;
    for election in [&private, &public] {
        transition_ok(&api, &admin.access, &election.id, "ELECTION_STATUS_CLOSED").await;
    }
    let path = |id: &str| {
        format!("/v1/elections/{id}/results/ballots:export?format=BALLOT_EXPORT_FORMAT_ABIF")
    };
    let (status, refused) = api.get(&path(&private.id), Some(&reader.access)).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.to_string().contains("admins only"), "{refused}");
    let (status, body) = api.get(&path(&private.id), Some(&admin.access)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.get(&path(&public.id), Some(&reader.access)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["content"]
        .as_str()
        .is_some_and(|abif| abif.contains("=c1:[Candidate 0]")));
}
