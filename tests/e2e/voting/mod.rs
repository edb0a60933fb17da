//! Issue 4: casting ballots. One voter, one vote under any concurrency, with Redis working,
//! flushed or gone; precise refusals that store nothing; receipts; ballot secrecy checked
//! against the real schema and the real events; and an early close that stops ballots.
//! Issue 11: the mix, tried by an attacker who reads every table and the broker.

mod attacker;
mod early_close;
mod mixing;
mod races;
mod refusals;
mod secrecy;

use serde_json::json;

use crate::support::{ballots::unthrottled_voters, *};

fn voting_mesh(
    instances: usize,
    configure: impl Fn(&mut svc_voting::Config) + Send + Sync + 'static,
) -> MeshOptions {
    MeshOptions {
        user: Instances::one(),
        candidate: Instances::one(),
        voting: Instances::many(instances).configured(configure),
        edge: Box::new(unthrottled_voters),
        ..Default::default()
    }
}

/// A DRAFT election of `method` with three candidates (Ada, Bob, Cy); returns its id and
/// the candidate ids.
async fn draft_election(
    api: &Rest,
    admin: &str,
    method: &str,
    max_choices: u32,
    roll: bool,
) -> (String, Vec<String>) {
    let mut body = draft_body("Vote now");
    body["election"]["method"] = json!(method);
    body["election"]["max_choices"] = json!(max_choices);
    if roll {
        body["election"]["eligibility"] = json!("ELIGIBILITY_ROLL");
    }
    election_with(api, admin, body, &["Ada", "Bob", "Cy"]).await
}

/// The same, open to every voter.
async fn open_election(
    api: &Rest,
    admin: &str,
    method: &str,
    max_choices: u32,
) -> (String, Vec<String>) {
    let (id, candidates) = draft_election(api, admin, method, max_choices, false).await;
    open(api, admin, &id).await;
    (id, candidates)
}

async fn open(api: &Rest, admin: &str, id: &str) {
    transition_ok(api, admin, id, "ELECTION_STATUS_OPEN").await;
}
