//! Ballot secrecy, checked against the real schema and the real events: nothing links a
//! voter to a choice.

use std::time::Duration;

use prost::Message as _;
use proto_gen::events::v1::{BallotCast, VoteRecorded};
use rdkafka::Message;
use sea_orm::{ConnectionTrait, Database};

use super::{open_election, voting_mesh};
use crate::support::{
    ballots::{ballot, voting_client, Wiring},
    broker::{next_message, reader},
    postgres::count,
    *,
};

fn mentions(raw: &[u8], text: &str) -> bool {
    raw.windows(text.len()).any(|w| w == text.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_in_the_schema_or_the_events_links_a_voter_to_a_choice() {
    let wiring = Wiring::fresh();
    let topics = wiring.clone();
    let mesh = spawn_mesh_with(voting_mesh(1, move |config| {
        config.kafka_brokers = Some(kafka());
        config.ballot_topic = topics.ballot_topic.clone();
        config.vote_topic = topics.vote_topic.clone();
    }))
    .await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let (id, c) = open_election(&api, &admin.access, "BALLOT_METHOD_RANKED", 0).await;
    let mut client = voting_client(&mesh.edge_url);
    let (mut voters, mut receipts) = (Vec::new(), Vec::new());
    for (i, choice) in [&c[..], &c[1..2], &c[2..]].iter().enumerate() {
        let voter = api.voter(&format!("secret{i}")).await;
        let cast = client
            .cast_ballot(ballot(&id, choice, &voter.access))
            .await
            .expect("cast")
            .into_inner();
        voters.push(voter.user_id);
        receipts.push(cast.receipt_code);
    }

    // The real schema: ballots know nothing of voters or time; participations nothing of choices.
    let db = Database::connect(mesh.database_url.clone())
        .await
        .expect("db");
    let columns = |table: &'static str| {
        let db = &db;
        async move {
            db.query_all(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                format!("SELECT column_name FROM information_schema.columns WHERE table_schema = 'svc_voting' AND table_name = '{table}' ORDER BY column_name"),
            ))
            .await
            .expect("columns")
            .iter()
            .map(|row| row.try_get::<String>("", "column_name").expect("name"))
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        columns("ballots").await,
        ["ballot_id", "election_id", "selection"]
    );
    assert_eq!(columns("receipts").await, ["election_id", "receipt_hash"]);
    assert_eq!(
        columns("sealed_ballots").await,
        ["election_id", "receipt_hash", "sealed"]
    );
    assert_eq!(
        columns("participations").await,
        ["cast_at_ms", "election_id", "voter_id"]
    );
    let exact =
        "SELECT COUNT(*) AS n FROM svc_voting.participations WHERE cast_at_ms % 3600000 <> 0";
    assert_eq!(
        count(&db, exact).await,
        0,
        "participations keep the hour only"
    );

    // Published events leave the outbox, so no pending pair lingers there.
    eventually(
        "the relay published and removed every outbox row",
        Duration::from_secs(5),
        || async { count(&db, "SELECT COUNT(*) AS n FROM svc_voting.outbox").await == 0 },
    )
    .await;

    // The events themselves: BallotCast carries no voter, VoteRecorded no choice.
    let consumer = reader(&kafka(), &[&wiring.ballot_topic, &wiring.vote_topic]);
    let (mut ballots, mut votes) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ballots.len() < 3 || votes.len() < 3 {
        let message = next_message(&consumer, deadline).await;
        let payload = message.payload().unwrap_or_default().to_vec();
        if message.topic() == wiring.ballot_topic {
            ballots.push(payload);
        } else {
            votes.push(payload);
        }
    }
    for raw in &ballots {
        let event = BallotCast::decode(raw.as_slice()).expect("BallotCast");
        assert!(!event.selection.expect("selection").candidate_ids.is_empty());
        for voter in &voters {
            assert!(!mentions(raw, voter), "a BallotCast names a voter");
        }
        assert!(
            event.cast_hour.is_none(),
            "no cast time travels with a ballot"
        );
        assert!(
            event.released_at.is_some(),
            "the mixed batch's release time"
        );
    }
    for raw in &votes {
        let event = VoteRecorded::decode(raw.as_slice()).expect("VoteRecorded");
        assert!(voters.contains(&event.voter_id));
        for candidate in &c {
            assert!(!mentions(raw, candidate), "a VoteRecorded names a choice");
        }
    }
    // The receipt is the voter's alone: it is in the cast response and in no event.
    for receipt in &receipts {
        assert!(!receipt.is_empty(), "every cast answers with a receipt");
        for raw in ballots.iter().chain(&votes) {
            assert!(!mentions(raw, receipt), "an event carries a receipt code");
        }
    }
}
