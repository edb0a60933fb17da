//! Issue 12, acceptance 5: weighted voters. Each ballot counts with its voter's roll weight,
//! exactly, and a restart of svc-result that replays the whole topic changes nothing. A
//! weight shared by fewer than k voters is reported at import, and opening then needs an
//! admin's acknowledgement.

use std::time::Duration;

use serde_json::json;

use super::{mesh_with_result_process, only_result_process, replay, LIVE, PLURALITY};
use crate::support::{ballots::*, *};

/// Voter i's weight: four of 1, four of 2.5, four of 0.333333.
const WEIGHTS: [&str; 3] = ["1", "2.5", "0.333333"];

fn weight_of(i: usize) -> &'static str {
    WEIGHTS[i / 4]
}

/// A DRAFT roll election with three candidates.
async fn roll_election(api: &Rest, admin: &str) -> (String, Vec<String>) {
    let mut body = draft_body("Weighted");
    body["election"]["method"] = json!(PLURALITY);
    body["election"]["results_visibility"] = json!(LIVE);
    body["election"]["eligibility"] = json!("ELIGIBILITY_ROLL");
    election_with(api, admin, body, &["Ada", "Bob", "Cy"]).await
}

async fn import(api: &Rest, admin: &str, id: &str, rows: &[(String, &str)]) -> serde_json::Value {
    let mut csv = String::from("email,weight\n");
    for (email, weight) in rows {
        csv.push_str(&format!("{email},{weight}\n"));
    }
    let path = format!("/v1/elections/{id}/roll:import");
    let (status, report) = api.post_csv(&path, admin, csv).await;
    assert_eq!(status, 200, "{report}");
    report
}

/// Each candidate's weighted votes as shown.
fn weighted(shown: &proto_gen::result::v1::GetResultsResponse) -> Vec<(String, u64, String)> {
    shown
        .tallies
        .iter()
        .map(|t| (t.candidate_id.clone(), t.votes, t.weighted_votes.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_ballots_count_exactly_through_a_restart_and_a_replay() {
    let (wiring, mesh, first) = mesh_with_result_process().await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let (id, candidates) = roll_election(&api, &admin.access).await;
    let people = voters(&api, 12, "weighed").await;
    let rows: Vec<(String, &str)> = people
        .iter()
        .enumerate()
        .map(|(i, voter)| (voter.email.clone(), weight_of(i)))
        .collect();
    let report = import(&api, &admin.access, &id, &rows).await;
    assert_eq!(report["accepted"], 12, "{report}");
    let (_, roll) = api
        .get(&format!("/v1/elections/{id}/roll"), Some(&admin.access))
        .await;
    let listed: Vec<&str> = roll["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["weight"].as_str())
        .collect();
    assert_eq!(listed.len(), 12, "{roll}");
    assert!(
        listed.contains(&"0.333333") && listed.contains(&"2.5"),
        "{roll}"
    );
    transition_ok(&api, &admin.access, &id, "ELECTION_STATUS_OPEN").await;

    // Voter i chooses candidate i mod 3.
    let jobs: Vec<Job> = people
        .iter()
        .enumerate()
        .map(|(i, voter)| {
            (
                id.clone(),
                vec![candidates[i % 3].clone()],
                voter.access.clone(),
            )
        })
        .collect();
    assert!(cast_all(&mesh.edge_url, jobs, 4)
        .await
        .iter()
        .all(Result::is_ok));
    transition_ok(&api, &admin.access, &id, "ELECTION_STATUS_CLOSED").await;
    let mut results = result_client(&mesh.edge_url).await;
    let shown = wait_for_total(&mut results, &id, &admin.access, 12).await;
    // Ada: 1 + 1 + 2.5 + 0.333333; Bob: 1 + 2.5 + 2.5 + 0.333333; Cy: 1 + 2.5 + 2 × 0.333333.
    let expected = vec![
        (candidates[0].clone(), 4, "4.833333".to_owned()),
        (candidates[1].clone(), 4, "6.333333".to_owned()),
        (candidates[2].clone(), 4, "4.166666".to_owned()),
    ];
    assert_eq!(weighted(&shown), expected);
    assert_eq!(
        shown.winner_candidate_id, candidates[1],
        "the heaviest, not the most"
    );
    assert_eq!(shown.questions[0].weight, "15.333332");

    // Kill the only consumer, rewind its group to offset zero, start another: the replay
    // changes nothing, to the millionth.
    drop(first);
    mesh.wait_for_instances(RESULT_SERVICE, 0).await;
    replay::rewind(&wiring).await;
    let _second = only_result_process(&mesh, &wiring).await;
    replay::wait_until_consumed(&wiring, Duration::from_secs(60)).await;
    let again = wait_for_total(&mut results, &id, &admin.access, 12).await;
    assert_eq!(weighted(&again), expected, "after a restart and a replay");
    let recount = format!("/v1/elections/{id}/results:recount");
    let (status, recounted) = api.post(&recount, Some(&admin.access), json!({})).await;
    assert_eq!(status, 200, "{recounted}");
    assert_eq!(recounted["matches"], true, "{recounted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weight_few_voters_share_is_reported_and_opening_needs_an_acknowledgement() {
    let options = MeshOptions {
        candidate: Instances::one()
            .configured(|config: &mut svc_candidate::Config| config.mix_min_batch = 3),
        ..results_mesh(&Wiring::fresh(), 1)
    };
    let mesh = spawn_mesh_with(options).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let (id, _) = roll_election(&api, &admin.access).await;
    let rows: Vec<(String, &str)> = ["1", "1", "1", "2"]
        .iter()
        .enumerate()
        .map(|(i, weight)| (email(&format!("rare{i}")), *weight))
        .collect();
    let report = import(&api, &admin.access, &id, &rows).await;
    let flagged = report["identifying_weights"].as_array().expect("reported");
    assert_eq!(flagged.len(), 1, "{report}");
    assert_eq!(flagged[0]["row"], 4, "{report}");
    assert!(flagged[0]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("weight 2")));

    let (status, refused) = transition(&api, &admin.access, &id, "ELECTION_STATUS_OPEN").await;
    assert_eq!(status, 412, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("acknowledge_identifying_weights"),
        "{refused}"
    );
    assert_eq!(
        status_of(&api, &admin.access, &id).await,
        "ELECTION_STATUS_DRAFT"
    );
    let (status, opened) = api
        .post(
            &format!("/v1/elections/{id}/transition"),
            Some(&admin.access),
            json!({"target": "ELECTION_STATUS_OPEN", "acknowledge_identifying_weights": true}),
        )
        .await;
    assert_eq!(status, 200, "{opened}");
}
