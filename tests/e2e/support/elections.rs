//! Helpers for election tests: RFC 3339 times and admin set-up over REST.

use serde_json::{json, Value};

use super::Rest;

/// An RFC 3339 time `seconds` from now.
pub fn in_seconds(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A DRAFT election opening in an hour, as an admin creates it.
pub fn draft_body(title: &str) -> Value {
    json!({"election": {
        "title": title,
        "description": "Annual board election",
        "method": "BALLOT_METHOD_RANKED",
        "opens_at": in_seconds(3600),
        "closes_at": in_seconds(7200),
        "results_visibility": "RESULTS_VISIBILITY_LIVE",
        "eligibility": "ELIGIBILITY_ALL_VOTERS"
    }})
}

/// The id of an election's JSON.
pub fn id_of(election: &Value) -> String {
    election["election_id"]
        .as_str()
        .expect("an election id")
        .to_owned()
}

/// Creates an election and returns its JSON.
pub async fn create_election(api: &Rest, token: &str, body: Value) -> Value {
    let (status, created) = api.post("/v1/elections", Some(token), body).await;
    assert_eq!(status, 200, "create election: {created}");
    created["election"].clone()
}

/// Adds a candidate and returns its id.
pub async fn add_candidate(api: &Rest, token: &str, election_id: &str, name: &str) -> String {
    let (status, added) = api
        .post(
            &format!("/v1/elections/{election_id}/candidates"),
            Some(token),
            json!({"candidate": {"name": name, "party": "Independent"}}),
        )
        .await;
    assert_eq!(status, 200, "add candidate: {added}");
    added["candidate"]["candidate_id"]
        .as_str()
        .expect("candidate id")
        .to_owned()
}

pub async fn status_of(api: &Rest, token: &str, election_id: &str) -> String {
    let (status, body) = api
        .get(&format!("/v1/elections/{election_id}"), Some(token))
        .await;
    assert_eq!(status, 200, "{body}");
    body["election"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub async fn transition(api: &Rest, token: &str, election_id: &str, target: &str) -> (u16, Value) {
    api.post(
        &format!("/v1/elections/{election_id}/transition"),
        Some(token),
        json!({"target": target}),
    )
    .await
}

/// A transition that must succeed; returns the reply.
pub async fn transition_ok(api: &Rest, token: &str, election_id: &str, target: &str) -> Value {
    let (status, body) = transition(api, token, election_id, target).await;
    assert_eq!(status, 200, "{target}: {body}");
    body
}

/// Creates an election with these candidates; returns its id and the candidate ids.
pub async fn election_with(
    api: &Rest,
    token: &str,
    body: Value,
    names: &[&str],
) -> (String, Vec<String>) {
    let id = id_of(&create_election(api, token, body).await);
    let mut candidates = Vec::new();
    for name in names {
        candidates.push(add_candidate(api, token, &id, name).await);
    }
    (id, candidates)
}
