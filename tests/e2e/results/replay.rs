//! 5,000 ballots count exactly, and a replay of the whole topic from offset zero changes
//! nothing.

use std::time::Duration;

use rdkafka::{
    consumer::{BaseConsumer, CommitMode, Consumer},
    ClientConfig, Offset, TopicPartitionList,
};

use super::{
    cast_everyone, mesh_with_result_process, only_result_process, Counts, APPROVAL, LIVE,
    PLURALITY, RANKED,
};
use crate::support::{ballots::*, *};

fn group_consumer(group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", kafka())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

/// (committed, end) offsets of the group on each partition of the topic.
fn group_offsets(group: &str, topic: &str) -> Vec<(i64, i64)> {
    let consumer = group_consumer(group);
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .expect("metadata");
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(5))
        .expect("committed offsets");
    (0..partitions)
        .map(|partition| {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition, Duration::from_secs(5))
                .expect("watermarks");
            let at = match committed
                .find_partition(topic, partition)
                .map(|p| p.offset())
            {
                Some(Offset::Offset(at)) => at,
                _ => 0,
            };
            (at, high)
        })
        .collect()
}

/// The group's offsets, read off the async runtime.
async fn offsets_of(wiring: &Wiring) -> Vec<(i64, i64)> {
    let (group, topic) = (wiring.group.clone(), wiring.ballot_topic.clone());
    tokio::task::spawn_blocking(move || group_offsets(&group, &topic))
        .await
        .expect("offsets")
}

/// Rewinds an idle group to the start of every partition, as an operator would.
fn reset_group(group: &str, topic: &str) {
    let consumer = group_consumer(group);
    let partitions = group_offsets(group, topic).len() as i32;
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, Offset::Offset(0))
            .expect("offset");
    }
    consumer.assign(&list).expect("assign");
    consumer.commit(&list, CommitMode::Sync).expect("commit");
}

/// Rewinds the (idle) counting group of `wiring` to offset zero on every partition.
pub(super) async fn rewind(wiring: &Wiring) {
    let (group, topic) = (wiring.group.clone(), wiring.ballot_topic.clone());
    tokio::task::spawn_blocking(move || reset_group(&group, &topic))
        .await
        .expect("reset");
}

/// Waits until the counting group has consumed the whole ballot topic.
pub(super) async fn wait_until_consumed(wiring: &Wiring, within: Duration) {
    eventually("the group consumed the whole topic", within, || async {
        let offsets = offsets_of(wiring).await;
        offsets.iter().all(|(at, high)| at == high)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_ballots_count_exactly_and_a_replay_from_zero_changes_nothing() {
    let (wiring, mesh, first) = mesh_with_result_process().await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let mut elections = Vec::new();
    for (method, candidates) in [
        (PLURALITY, 3),
        (APPROVAL, 4),
        (RANKED, 4),
        (RANKED, 3),
        (PLURALITY, 5),
    ] {
        elections.push(open_election(&api, &admin.access, method, candidates, LIVE).await);
    }
    let people = voters(&api, 1000, "five").await;
    let accepted = cast_everyone(&mesh, &elections, &people).await;
    let mut counts = Counts::new(&mesh, &admin).await;
    let mut before = Vec::new();
    for (election, accepted) in elections.iter().zip(&accepted) {
        counts.assert_exact(election, accepted).await;
        before.push(counts.shown(&election.id).await);
    }

    // Stop the only consumer, rewind its group to offset zero, and start it again.
    first.stop(15).await;
    mesh.wait_for_instances(RESULT_SERVICE, 0).await;
    rewind(&wiring).await;
    let rewound = offsets_of(&wiring).await;
    assert!(
        rewound.iter().all(|(at, _)| *at == 0),
        "rewound: {rewound:?}"
    );
    let ends: i64 = rewound.iter().map(|(_, high)| high).sum();
    assert!(ends >= 5000, "the topic holds every ballot: {ends}");

    let _second = only_result_process(&mesh, &wiring).await;
    wait_until_consumed(&wiring, Duration::from_secs(60)).await;
    for ((election, accepted), earlier) in elections.iter().zip(&accepted).zip(&before) {
        let now = counts.shown(&election.id).await;
        assert_eq!(now.tallies, earlier.tallies, "replay changed nothing");
        assert_eq!(now.total_ballots, earlier.total_ballots);
        counts.assert_exact(election, accepted).await;
    }
}
