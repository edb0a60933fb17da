//! One suite for every adapter of the voting store: PostgreSQL and SQLite, one transaction
//! per cast or group commit. One voter, one vote, whatever the concurrency.

use std::sync::Arc;

use anyhow::ensure;
use futures::future::join_all;
use kit::bus::Event;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::store::{Cast, CastError, VotingStore, MAX_PARTICIPATION_CHECK};

/// A cast by `voter` in `election` with fresh ids, as the suite and the crate's tests use it.
pub(crate) fn cast_of(election: &str, voter: &str) -> Cast {
    let ballot = uuid::Uuid::new_v4().to_string();
    Cast {
        election_id: election.into(),
        voter_id: voter.into(),
        cast_at_ms: 1,
        ballot_id: ballot.clone(),
        selection: "a,b".into(),
        receipt_hash: format!("hash-{ballot}"),
        events: ["ballots", "votes"]
            .into_iter()
            .map(|topic| Event {
                id: uuid::Uuid::new_v4().to_string(),
                topic: topic.into(),
                key: election.into(),
                payload: vec![1],
            })
            .collect(),
    }
}

async fn outbox_rows(db: &DatabaseConnection) -> anyhow::Result<i64> {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM outbox",
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// Participation checks answer only the voted subset, per election, each voter once.
async fn voted_among(store: &dyn VotingStore) -> anyhow::Result<()> {
    let ids = |list: &[&str]| list.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    let sorted = |mut list: Vec<String>| {
        list.sort();
        list
    };
    let asked = ids(&["ada", "bob", "racer", "voter7", "ada", "nobody"]);
    ensure!(
        sorted(store.voted_among("e1", &asked).await?) == ids(&["ada", "racer", "voter7"]),
        "e1: the voted subset, each once"
    );
    ensure!(store.voted_among("e2", &asked).await? == ids(&["ada"]));
    ensure!(store.voted_among("e3", &asked).await?.is_empty());
    ensure!(store.voted_among("e1", &[]).await?.is_empty());
    let many: Vec<String> = (0..MAX_PARTICIPATION_CHECK)
        .map(|i| format!("voter{i}"))
        .collect();
    ensure!(
        store.voted_among("e1", &many).await?.len() == 100,
        "a full list in one query"
    );
    Ok(())
}

/// `db` is the connection the store writes to, for checking the outbox.
pub async fn run(store: Arc<dyn VotingStore>, db: &DatabaseConnection) -> anyhow::Result<()> {
    let first = cast_of("e1", "ada");
    let hash = first.receipt_hash.clone();
    store.cast(first).await?;
    ensure!(matches!(
        store.cast(cast_of("e1", "ada")).await,
        Err(CastError::AlreadyVoted)
    ));
    ensure!(store.participation("e1", "ada").await? == Some(1));
    ensure!(store.participation("e1", "bob").await?.is_none());
    ensure!(store.receipt(&hash).await?.as_deref() == Some("e1"));
    ensure!(store.receipt("nope").await?.is_none());
    store.cast(cast_of("e2", "ada")).await?;

    // One voter racing 50 casts, and 100 voters at once.
    let racing = join_all((0..50).map(|_| store.cast(cast_of("e1", "racer")))).await;
    let won = racing.iter().filter(|r| r.is_ok()).count();
    let duplicates = racing
        .iter()
        .filter(|r| matches!(r, Err(CastError::AlreadyVoted)))
        .count();
    ensure!(
        (won, duplicates) == (1, 49),
        "race: {won} won, {duplicates} duplicates"
    );
    let crowd = join_all((0..100).map(|i| store.cast(cast_of("e1", &format!("voter{i}"))))).await;
    ensure!(crowd.iter().all(Result::is_ok), "distinct voters all vote");

    voted_among(store.as_ref()).await?;
    ensure!(
        store.counts("e1").await? == (102, 102),
        "e1: {:?}",
        store.counts("e1").await?
    );
    ensure!(store.counts("e2").await? == (1, 1));
    ensure!(
        outbox_rows(db).await? == 2 * 103,
        "two events per accepted cast"
    );
    Ok(())
}
