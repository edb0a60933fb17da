//! The invariants every scenario ends on, once its election has closed and the mesh has
//! settled: every acknowledged ballot is recorded and counted exactly once, and every
//! recorded vote got exactly one confirmation.

use std::{collections::BTreeMap, time::Duration};

use serde_json::Value;

use crate::{
    cluster::Cluster,
    load::Outcome,
    support::{
        ballots::OpenElection,
        clients::Rest,
        elections::transition,
        mail::SmtpSink,
        postgres::count,
        wait::{eventually, eventually_some},
    },
};

/// How long the mesh may take to catch up after a fault: relays, consumers and senders
/// retry with backoff.
const SETTLE: Duration = Duration::from_secs(180);

/// What a stalled count leaves behind: events still in svc-voting's outbox, and the
/// broker's last errors.
async fn diagnosis(cluster: &Cluster) -> String {
    let waiting = match sea_orm::Database::connect(cluster.database_url.clone()).await {
        Ok(db) => count(&db, "SELECT COUNT(*) AS n FROM svc_voting.outbox").await,
        Err(_) => -1,
    };
    let log = cluster.broker.log_text();
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("ERROR"))
        .rev()
        .take(5)
        .collect();
    format!("svc-voting's outbox holds {waiting} events; the broker's last errors: {errors:#?}")
}

/// A proto3 JSON integer: a string for 64-bit fields, absent when zero.
fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// Closes the election, retrying while the mesh recovers (a reply lost to a fault may have
/// closed it already).
async fn close(api: &Rest, admin: &str, election_id: &str) {
    eventually("the election closes", SETTLE, || async {
        let (status, _) = transition(api, admin, election_id, "ELECTION_STATUS_CLOSED").await;
        if status == 200 {
            return true;
        }
        let (status, election) = api
            .get(&format!("/v1/elections/{election_id}"), Some(admin))
            .await;
        status == 200 && election["election"]["status"] == "ELECTION_STATUS_CLOSED"
    })
    .await;
}

/// Closes the election, waits for the count to settle and checks the invariants; the number
/// of ballots recorded.
pub async fn settle(
    cluster: &Cluster,
    admin: &str,
    election: &OpenElection,
    title: &str,
    outcome: &Outcome,
    voters: usize,
) -> u64 {
    let api = &Rest::new(&cluster.edge_url);
    let smtp = &cluster.smtp;
    let id = &election.id;
    close(api, admin, id).await;
    let last = std::sync::Mutex::new(Value::Null);
    let audit = tokio::time::timeout(
        SETTLE,
        eventually_some("every recorded ballot is counted", SETTLE * 2, || async {
            let (status, audit) = api
                .get(&format!("/v1/elections/{id}/results:audit"), Some(admin))
                .await;
            let settled = status == 200
                && audit["matches"] == true
                && number(&audit["sealed"]) == 0
                && number(&audit["recorded"]) == number(&audit["counted"]);
            *last.lock().unwrap_or_else(|p| p.into_inner()) = audit.clone();
            settled.then_some(audit)
        }),
    )
    .await
    .ok();
    let Some(audit) = audit else {
        let seen = last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        panic!(
            "{title}: the count did not settle in {SETTLE:?}; last audit {seen}; {}",
            diagnosis(cluster).await
        )
    };
    let recorded = number(&audit["recorded"]);
    let acknowledged = outcome.acknowledged.len() as u64;
    assert!(
        recorded >= acknowledged && recorded <= voters as u64,
        "{title}: {acknowledged} acknowledged, {recorded} recorded of {voters} voters"
    );
    for (email, receipt) in &outcome.acknowledged {
        let (status, verified) = api.get(&format!("/v1/receipts/{receipt}"), None).await;
        assert_eq!(status, 200, "{title}: {email}'s receipt: {verified}");
        assert!(
            verified["recorded"] == true && verified["counted"] == true,
            "{title}: {email}'s acknowledged ballot is counted: {verified}"
        );
    }
    let (status, results) = api
        .get(&format!("/v1/elections/{id}/results"), Some(admin))
        .await;
    assert_eq!(status, 200, "{results}");
    let shown: u64 = results["tallies"]
        .as_array()
        .map(|tallies| tallies.iter().map(|t| number(&t["votes"])).sum())
        .unwrap_or(0);
    assert_eq!(
        shown, recorded,
        "{title}: the results show each ballot once"
    );
    confirmations_once(smtp, title, outcome, recorded).await;
    recorded
}

/// Exactly one confirmation per recorded vote: none missing once the senders catch up, and
/// no voter's twice.
async fn confirmations_once(smtp: &SmtpSink, title: &str, outcome: &Outcome, recorded: u64) {
    let subject = format!("Your ballot in {title} was recorded");
    let per_voter = || -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for mail in smtp.messages().expect("the mail log") {
            if mail.subject == subject {
                for to in mail.to {
                    *counts.entry(to.to_lowercase()).or_insert(0) += 1;
                }
            }
        }
        counts
    };
    eventually("a confirmation for every recorded vote", SETTLE, || async {
        per_voter().values().sum::<u64>() >= recorded
    })
    .await;
    // Anything sent twice would have gone out by now with the rest.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = per_voter();
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{title}: sent twice: {twice:?}");
    assert_eq!(
        counts.len() as u64,
        recorded,
        "{title}: one per recorded vote"
    );
    for (email, _) in &outcome.acknowledged {
        assert!(
            counts.contains_key(&email.to_lowercase()),
            "{title}: {email} voted and was confirmed"
        );
    }
}
