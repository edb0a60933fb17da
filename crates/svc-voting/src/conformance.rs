//! One suite for every adapter of the voting store: PostgreSQL and SQLite, one transaction
//! per cast or group commit. One voter, one vote, whatever the concurrency.

use std::sync::Arc;

use anyhow::ensure;
use futures::future::join_all;
use kit::bus::Event;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::store::{
    Cast, CastError, ReceiptStatus, Recorded, Released, SeaVotingStore, SealedBallot, VotingStore,
    MAX_PARTICIPATION_CHECK,
};

fn event(topic: &str, election: &str) -> Event {
    Event {
        id: uuid::Uuid::new_v4().to_string(),
        topic: topic.into(),
        key: election.into(),
        payload: vec![1],
    }
}

/// A cast by `voter` in `election` with fresh ids, as the suite and the crate's tests use it.
pub(crate) fn cast_of(election: &str, voter: &str) -> Cast {
    let receipt = uuid::Uuid::new_v4().to_string();
    Cast {
        election_id: election.into(),
        voter_id: voter.into(),
        cast_at_ms: 1,
        receipt_hash: format!("hash-{receipt}"),
        sealed: receipt.into_bytes(),
        events: vec![event("votes", election)],
    }
}

/// What the mix makes of a sealed ballot here: a fresh ballot id and its event.
fn opened(election: &str, sealed: Vec<SealedBallot>) -> Result<Vec<Released>, String> {
    Ok(sealed
        .into_iter()
        .map(|_| Released {
            ballot_id: uuid::Uuid::new_v4().to_string(),
            selection: "a,b".into(),
            event: event("ballots", election),
        })
        .collect())
}

/// The mix's release: all or nothing, never below its minimum, each sealed ballot once.
async fn release(store: &dyn VotingStore, sea: &SeaVotingStore, hash: &str) -> anyhow::Result<()> {
    let mut pending = sea.pending().await?;
    pending.sort();
    ensure!(
        pending == [("e1".to_owned(), 102), ("e2".to_owned(), 1)],
        "{pending:?}"
    );
    ensure!(
        sea.release("e1", 103, |s| opened("e1", s)).await? == 0,
        "below the minimum"
    );
    ensure!(
        store.counts("e1").await?.sealed == 102,
        "nothing left the mix"
    );
    ensure!(
        store.receipt(hash).await?
            == Some(ReceiptStatus {
                election_id: "e1".into(),
                counted: false
            })
    );
    ensure!(sea.release("e1", 10, |s| opened("e1", s)).await? == 102);
    ensure!(
        sea.release("e1", 1, |s| opened("e1", s)).await? == 0,
        "each ballot once"
    );
    ensure!(store.receipt(hash).await?.is_some_and(|s| s.counted));
    let expected = Recorded {
        ballots: 102,
        participations: 102,
        sealed: 0,
    };
    ensure!(store.counts("e1").await? == expected);
    let mixed = kit::db::count(
        sea.connection(),
        "SELECT COUNT(*) FROM ballots WHERE election_id = $1",
        ["e1".into()],
    )
    .await?;
    ensure!(mixed == 102, "{mixed} ballots mixed");
    ensure!(
        outbox_rows(sea.connection()).await? == 103 + 102,
        "a BallotCast per ballot"
    );
    Ok(())
}

/// A round of the mix in one transaction: an election whose ballots do not open, or that
/// falls short of its minimum, keeps them sealed, and the others' batches still leave.
async fn release_round(store: &dyn VotingStore, sea: &SeaVotingStore) -> anyhow::Result<()> {
    for voter in ["r1", "r2", "r3"] {
        store.cast(cast_of("e3", voter)).await?;
    }
    let before = outbox_rows(sea.connection()).await?;
    // e2 still holds its one sealed ballot; here it does not open.
    let open = |election: &str, sealed| match election {
        "e2" => Err("does not open".to_owned()),
        _ => opened(election, sealed),
    };
    let short = sea
        .release_round(&[("e2".into(), 1), ("e3".into(), 4)], open)
        .await?;
    ensure!(
        matches!(short.as_slice(), [(_, Err(_)), (_, Ok(0))]),
        "{short:?}"
    );
    ensure!(store.counts("e3").await?.sealed == 3 && store.counts("e2").await?.sealed == 1);
    ensure!(
        outbox_rows(sea.connection()).await? == before,
        "nothing left"
    );
    let round = sea
        .release_round(&[("e2".into(), 1), ("e3".into(), 1)], open)
        .await?;
    ensure!(
        matches!(round.as_slice(), [(_, Err(_)), (_, Ok(3))]),
        "{round:?}"
    );
    let mixed = kit::db::count(
        sea.connection(),
        "SELECT COUNT(*) FROM ballots WHERE election_id = $1",
        ["e3".into()],
    )
    .await?;
    ensure!(
        store.counts("e3").await?.sealed == 0 && mixed == 3,
        "{mixed} mixed"
    );
    ensure!(store.counts("e2").await?.sealed == 1, "e2 stays sealed");
    ensure!(outbox_rows(sea.connection()).await? == before + 3);
    let last = sea.release_round(&[("e2".into(), 1)], opened).await?;
    ensure!(matches!(last.as_slice(), [(_, Ok(1))]), "{last:?}");
    Ok(())
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

/// `sea` is the store `store` writes through (itself, or under group commit), for the mix
/// and the outbox.
pub async fn run(store: Arc<dyn VotingStore>, sea: &SeaVotingStore) -> anyhow::Result<()> {
    let first = cast_of("e1", "ada");
    let hash = first.receipt_hash.clone();
    store.cast(first).await?;
    ensure!(matches!(
        store.cast(cast_of("e1", "ada")).await,
        Err(CastError::AlreadyVoted)
    ));
    ensure!(store.participation("e1", "ada").await? == Some(1));
    ensure!(store.participation("e1", "bob").await?.is_none());
    ensure!(store
        .receipt(&hash)
        .await?
        .is_some_and(|s| s.election_id == "e1"));
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
    let sealed = |n| Recorded {
        ballots: n,
        participations: n,
        sealed: n,
    };
    ensure!(
        store.counts("e1").await? == sealed(102),
        "e1: {:?}",
        store.counts("e1").await?
    );
    ensure!(store.counts("e2").await? == sealed(1));
    ensure!(
        outbox_rows(sea.connection()).await? == 103,
        "a VoteRecorded per accepted cast; its ballot waits sealed"
    );
    release(store.as_ref(), sea, &hash).await?;
    release_round(store.as_ref(), sea).await
}
