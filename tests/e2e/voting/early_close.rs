//! An early close reaches every svc-voting instance through the status events, long before
//! their cached copy of the election would expire.

use std::time::Duration;

use tonic::Code;

use super::{open_election, voting_mesh};
use crate::support::{
    ballots::{ballot, voting_client, Wiring},
    *,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_close_stops_ballots_at_once_on_every_instance() {
    let wiring = Wiring::fresh();
    let status_topic = format!("votemesh.test.status.{}", wiring.group);
    let topic = status_topic.clone();
    let mut options = voting_mesh(2, move |config| {
        config.kafka_brokers = Some(kafka());
        config.status_topic = topic.clone();
        config.ballot_topic = wiring.ballot_topic.clone();
        config.vote_topic = wiring.vote_topic.clone();
        // Without the events, a closed election would stay open here for ten minutes.
        config.election_cache_ms = 600_000;
    });
    options.candidate = Instances::one().configured(move |config: &mut svc_candidate::Config| {
        config.kafka_brokers = Some(kafka());
        config.status_topic = status_topic.clone();
    });
    let mesh = spawn_mesh_with(options).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let (id, c) = open_election(&api, &admin.access, "BALLOT_METHOD_PLURALITY", 1).await;
    let mut client = voting_client(&mesh.edge_url);
    // Both instances cache the election as OPEN.
    for i in 0..4 {
        let voter = api.voter(&format!("early{i}")).await;
        client
            .cast_ballot(ballot(&id, &c[..1], &voter.access))
            .await
            .expect("open: accepted");
    }
    transition_ok(&api, &admin.access, &id, "ELECTION_STATUS_CLOSED").await;

    let mut refused_in_a_row = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    while refused_in_a_row < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "svc-voting still accepts ballots 30 s after the close"
        );
        n += 1;
        let voter = api.voter(&format!("late{n}")).await;
        match client
            .cast_ballot(ballot(&id, &c[..1], &voter.access))
            .await
        {
            Err(status) if status.code() == Code::FailedPrecondition => refused_in_a_row += 1,
            Ok(_) => {
                refused_in_a_row = 0;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("unexpected: {status:?}"),
        }
    }
}
