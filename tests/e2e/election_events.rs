//! Issue 3: open and close changes are published through the outbox to the real broker
//! (Tansu, Kafka-compatible), on a topic svc-candidate creates at start.

use std::time::Duration;

use kit::shutdown::Shutdown;
use prost::Message as _;
use proto_gen::{election::v1::ElectionStatus, events::v1::ElectionStatusChanged};
use rdkafka::{
    consumer::{Consumer, StreamConsumer},
    ClientConfig, Message,
};

use crate::support::*;

fn brokers() -> String {
    std::env::var("VOTEMESH_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_changes_reach_kafka_through_the_outbox() {
    let mesh = spawn_mesh_with(MeshOptions {
        user_instances: 1,
        candidate_instances: 0,
        voting_instances: 0,
        edge: Box::new(|_| {}),
        ..Default::default()
    })
    .await;
    let topic = format!(
        "votemesh.test.election-status.{}",
        uuid::Uuid::new_v4().simple()
    );
    let mut config = svc_candidate::Config::local(
        &mesh.secret,
        Some(mesh.registry_url.clone()),
        mesh.database_url.clone(),
    );
    config.kafka_brokers = Some(brokers());
    config.status_topic = topic.clone();
    config.status_partitions = 3;
    let shutdown = Shutdown::new();
    let app = svc_candidate::App::build(config)
        .await
        .expect("svc-candidate with Kafka");
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    mesh.wait_for_instances(ELECTION_SERVICE, 1).await;

    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let election = create_election(&api, &admin.access, draft_body("Published")).await;
    let id = election["election_id"].as_str().expect("id").to_owned();
    add_candidate(&api, &admin.access, &id, "Ada").await;
    add_candidate(&api, &admin.access, &id, "Bob").await;
    assert_eq!(
        transition(&api, &admin.access, &id, "ELECTION_STATUS_OPEN")
            .await
            .0,
        200
    );
    assert_eq!(
        transition(&api, &admin.access, &id, "ELECTION_STATUS_CLOSED")
            .await
            .0,
        200
    );

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("test-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions = metadata.topics().first().map(|t| t.partitions().len());
    assert_eq!(
        partitions,
        Some(3),
        "the topic was created with the configured partitions"
    );
    consumer.subscribe(&[&topic]).expect("subscribe");

    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < 2 {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .expect("both events arrive in time")
            .expect("a message");
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
    shutdown.trigger();
}
