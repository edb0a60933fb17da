//! Issue 3: open and close changes are published through the outbox to the real broker
//! (Tansu, Kafka-compatible), on a topic svc-candidate creates at start.

use std::time::Duration;

use prost::Message as _;
use proto_gen::{election::v1::ElectionStatus, events::v1::ElectionStatusChanged};
use rdkafka::{consumer::Consumer, Message};

use crate::support::{
    broker::{next_message, reader},
    candidate::*,
    *,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_reach_kafka_through_the_outbox() {
    let mesh = spawn_mesh_without_candidates().await;
    let topic = format!(
        "votemesh.test.election-status.{}",
        uuid::Uuid::new_v4().simple()
    );
    let status_topic = topic.clone();
    let candidate = start_candidate(&mesh, |config| {
        config.kafka_brokers = Some(kafka());
        config.status_topic = status_topic;
        config.status_partitions = 3;
    })
    .await;

    let (api, admin) = rest_as_admin(&mesh).await;
    let (id, _) = election_with(
        &api,
        &admin.access,
        draft_body("Published"),
        &["Ada", "Bob"],
    )
    .await;
    for target in ["ELECTION_STATUS_OPEN", "ELECTION_STATUS_CLOSED"] {
        transition_ok(&api, &admin.access, &id, target).await;
    }

    let consumer = reader(&kafka(), &[&topic]);
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions = metadata.topics().first().map(|t| t.partitions().len());
    assert_eq!(
        partitions,
        Some(3),
        "the topic was created with the configured partitions"
    );

    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < 2 {
        let message = next_message(&consumer, deadline).await;
        assert_eq!(message.key(), Some(id.as_bytes()), "keyed by election");
        let event = ElectionStatusChanged::decode(message.payload().unwrap_or_default())
            .expect("event decodes");
        assert_eq!(event.election_id, id);
        seen.push(event.status);
    }
    assert_eq!(
        seen,
        [ElectionStatus::Open as i32, ElectionStatus::Closed as i32]
    );
    candidate.trigger();
}
