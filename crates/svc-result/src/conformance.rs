//! One suite for every adapter of svc-result's ports: the store (PostgreSQL and SQLite)
//! and the results cache with its fan-out (Redis and in memory).

use std::time::Duration;

use anyhow::ensure;
use kit::shutdown::Shutdown;
use proto_gen::result::v1::GetResultsResponse;

use crate::{
    cache::ResultCache,
    store::{CountedBallot, ResultStore},
};

fn ballot(id: &str, election: &str, selection: &[&str]) -> CountedBallot {
    CountedBallot {
        ballot_id: id.into(),
        election_id: election.into(),
        weight: counting::ONE,
        answers: vec![(election.to_owned(), selection.join(","))],
    }
}

/// Replays and duplicates count once; counts, profile and totals agree.
pub async fn store(store: &dyn ResultStore) -> anyhow::Result<()> {
    let first = vec![
        ballot("b1", "e1", &["a", "b"]),
        ballot("b2", "e1", &["b", "a"]),
        ballot("b2", "e1", &["b", "a"]),
        ballot("b3", "e2", &["a"]),
    ];
    let changed = store.apply(&first, 1_000).await?;
    ensure!(changed.len() == 2, "two elections changed: {changed:?}");
    let e1 = &changed["e1"];
    ensure!(
        e1.added.total == 2 && e1.total_after == 2,
        "e1 added: {e1:?}"
    );
    ensure!(
        e1.added.profile[&"e1|1000000|a,b".to_string()] == 1 && e1.added.tallies["a"].mentions == 2
    );
    // A replay of the whole batch plus one new ballot: only the new one counts.
    let mut again = first.clone();
    again.push(ballot("b4", "e1", &["a", "b"]));
    let changed = store.apply(&again, 2_000).await?;
    ensure!(changed.len() == 1, "only e1 changed: {changed:?}");
    let e1 = &changed["e1"];
    ensure!(
        e1.added.total == 1 && e1.total_after == 3,
        "only b4 added: {e1:?}"
    );
    ensure!(e1.added.applied_at_ms == 2_000);
    let e1 = store.stored("e1").await?;
    ensure!(e1.total == 3, "e1 total: {}", e1.total);
    ensure!(e1.applied_at_ms == 2_000);
    ensure!(e1.tallies["a"].first_preferences == 2 && e1.tallies["a"].mentions == 3);
    ensure!(e1.tallies["b"].first_preferences == 1 && e1.tallies["b"].mentions == 3);
    ensure!(
        e1.profile[&"e1|1000000|a,b".to_string()] == 2
            && e1.profile[&"e1|1000000|b,a".to_string()] == 1
    );
    ensure!(store.counted("e1").await? == 3);
    ensure!(store.stored("e2").await?.total == 1);
    let nothing = store.apply(&again, 3_000).await?;
    ensure!(nothing.is_empty(), "a full replay changes nothing");
    ensure!(store.stored("none").await?.total == 0);
    published(store).await
}

/// Published results only move forward.
async fn published(store: &dyn ResultStore) -> anyhow::Result<()> {
    ensure!(store.published("e1").await?.is_none());
    ensure!(store.publish("e1", 10, b"ten", 5).await?, "the first");
    ensure!(!store.publish("e1", 3, b"three", 0).await?);
    ensure!(
        store.published("e1").await? == Some((10, b"ten".to_vec())),
        "never back"
    );
    ensure!(
        !store.publish("e1", 14, b"fourteen", 5).await?,
        "not a step of 5"
    );
    ensure!(store.publish("e1", 15, b"fifteen", 5).await?);
    ensure!(
        store.publish("e1", 15, b"again", 0).await?,
        "the same, at the close"
    );
    ensure!(store.published("e1").await? == Some((15, b"again".to_vec())));
    ensure!(store.published("e2").await?.is_none());
    Ok(())
}

/// What one replica stores, another reads; what one announces, the watchers of that
/// election on every replica hear, and nobody else.
pub async fn cache(writer: &dyn ResultCache, reader: &dyn ResultCache) -> anyhow::Result<()> {
    let relaying = Shutdown::new();
    reader.relay(&relaying);
    let outcome = announced_to_watchers(writer, reader).await;
    relaying.trigger();
    ensure!(
        relaying.drained(Duration::from_secs(5)).await,
        "the relay stops on shutdown"
    );
    outcome
}

async fn announced_to_watchers(
    writer: &dyn ResultCache,
    reader: &dyn ResultCache,
) -> anyhow::Result<()> {
    let election = uuid::Uuid::new_v4().to_string();
    ensure!(reader.get(&election).await?.is_none());
    let mut watch = reader.watch(&election);
    let mut elsewhere = reader.watch(&uuid::Uuid::new_v4().to_string());
    // Subscriptions to a remote channel take a moment to be in place.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let snapshot = GetResultsResponse {
        election_id: election.clone(),
        total_ballots: 7,
        ..Default::default()
    };
    writer.put(&snapshot).await?;
    ensure!(reader.get(&election).await? == Some(snapshot.clone()));
    let heard = tokio::time::timeout(Duration::from_secs(5), watch.changed()).await?;
    ensure!(heard, "the watch channel closed");
    let newest = watch.newest();
    ensure!(newest == Some(snapshot), "announced: {newest:?}");
    let other = tokio::time::timeout(Duration::from_millis(200), elsewhere.changed()).await;
    ensure!(other.is_err(), "another election's watcher heard nothing");
    Ok(())
}

/// Counts stored before questions (migration 3) read after the upgrade as the first
/// question's, each ballot weighing 1, and count on from there.
pub async fn upgrade_from_before_questions(url: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = kit::db::connect(url, "svc_result", 2).await?;
    kit::db::migrate(&db, &crate::store::MIGRATIONS[..3]).await?;
    for sql in [
        "INSERT INTO counted_ballots (ballot_id, election_id) VALUES ('b1', 'e'), ('b2', 'e')",
        "INSERT INTO tallies (election_id, candidate_id, first_preferences, mentions) \
         VALUES ('e', 'a', 2, 2), ('e', 'b', 0, 2)",
        "INSERT INTO profiles (election_id, selection, ballots) VALUES ('e', 'a,b', 2)",
        "INSERT INTO totals (election_id, ballots, applied_at_ms) VALUES ('e', 2, 1)",
    ] {
        db.execute_unprepared(sql).await?;
    }
    let store = crate::store::SeaResultStore::open(url, 2).await?;
    store.apply(&[ballot("b3", "e", &["b"])], 2).await?;
    let stored = store.stored("e").await?;
    ensure!(
        stored.profile.get("e|1000000|a,b") == Some(&2)
            && stored.profile.get("e|1000000|b") == Some(&1)
            && stored.total == 3,
        "after the upgrade: {stored:?}"
    );
    let recounted = crate::results::recount(&stored);
    ensure!(
        crate::results::differences(&stored, &recounted).is_empty(),
        "the recount agrees: {:?}",
        crate::results::differences(&stored, &recounted)
    );
    Ok(())
}
