//! The mix's side of the store: which elections have sealed ballots waiting, and the release
//! of a round's batches, in a transaction of their own, so no released ballot shares a
//! transaction id, a commit time or a run of row positions with the participation it came
//! with.

use kit::{
    bus::Event,
    db::{insert_rows, statement},
};
use rand::seq::SliceRandom;
use sea_orm::{ConnectionTrait, DbErr, TransactionTrait, Value};

use super::SeaVotingStore;

/// Most ballots one release takes; a larger backlog leaves in several batches.
pub const MAX_RELEASE: usize = 5000;

/// A ballot as the cast sealed it.
pub struct SealedBallot {
    pub sealed: Vec<u8>,
}

/// A ballot opened by the mix: its row in `ballots` and its BallotCast event.
pub struct Released {
    pub ballot_id: String,
    pub selection: String,
    pub event: Event,
}

impl SeaVotingStore {
    /// Elections with sealed ballots waiting, each with how many.
    pub async fn pending(&self) -> Result<Vec<(String, u64)>, DbErr> {
        let backend = self.db.get_database_backend();
        self.db
            .query_all(statement(
                backend,
                "SELECT election_id, COUNT(*) AS waiting FROM sealed_ballots GROUP BY election_id",
                [],
            ))
            .await?
            .iter()
            .map(|row| {
                let waiting: i64 = row.try_get("", "waiting")?;
                Ok((row.try_get("", "election_id")?, waiting.max(0) as u64))
            })
            .collect()
    }

    /// Takes up to [`MAX_RELEASE`] of an election's sealed ballots, opens them with `open`,
    /// and writes them into `ballots` and the outbox in shuffled order, all in one
    /// transaction; returns how many left the mix. Fewer than `min` taken (another instance
    /// released them first) leaves everything as it was and returns 0.
    pub async fn release(
        &self,
        election_id: &str,
        min: usize,
        mut open: impl FnMut(Vec<SealedBallot>) -> Result<Vec<Released>, String>,
    ) -> Result<usize, DbErr> {
        let due = [(election_id.to_owned(), min)];
        let outcomes = self.release_round(&due, |_, sealed| open(sealed)).await?;
        match outcomes.into_iter().next() {
            Some((_, outcome)) => outcome.map_err(DbErr::Custom),
            None => Ok(0),
        }
    }

    /// A whole round of the mix in one transaction: for each `(election, min)` of `due`, up
    /// to [`MAX_RELEASE`] of its sealed ballots, opened with `open` and written into `ballots`
    /// and the outbox, all shuffled together. One commit for the round instead of one per
    /// election keeps the mix's share of the database small while its rounds come often. An
    /// election with fewer than `min` taken (another instance released them first), or whose
    /// ballots do not open, keeps its sealed ballots (its savepoint is rolled back) and does
    /// not hold back the others. Returns each election's outcome: how many left, or why none.
    pub async fn release_round(
        &self,
        due: &[(String, usize)],
        mut open: impl FnMut(&str, Vec<SealedBallot>) -> Result<Vec<Released>, String>,
    ) -> Result<Vec<(String, Result<usize, String>)>, DbErr> {
        let txn = self.db.begin().await?;
        let mut outcomes = Vec::with_capacity(due.len());
        let mut opened: Vec<(String, Released)> = Vec::new();
        for (election_id, min) in due {
            let part = txn.begin().await?;
            let taken = take(&part, election_id).await?;
            if taken.is_empty() || taken.len() < *min {
                part.rollback().await?;
                outcomes.push((election_id.clone(), Ok(0)));
                continue;
            }
            match open(election_id, taken) {
                Ok(ballots) => {
                    part.commit().await?;
                    outcomes.push((election_id.clone(), Ok(ballots.len())));
                    opened.extend(ballots.into_iter().map(|b| (election_id.clone(), b)));
                }
                Err(why) => {
                    part.rollback().await?;
                    outcomes.push((election_id.clone(), Err(why)));
                }
            }
        }
        if opened.is_empty() {
            txn.rollback().await?;
            return Ok(outcomes);
        }
        opened.shuffle(&mut rand::thread_rng());
        let rows: Vec<[Value; 3]> = opened
            .iter()
            .map(|(election_id, ballot)| {
                [
                    ballot.ballot_id.clone().into(),
                    election_id.clone().into(),
                    ballot.selection.clone().into(),
                ]
            })
            .collect();
        insert_rows(
            &txn,
            "INSERT INTO ballots (ballot_id, election_id, selection)",
            "",
            &rows,
        )
        .await?;
        let events: Vec<Event> = opened.into_iter().map(|(_, ballot)| ballot.event).collect();
        kit::outbox::append_unlinkable(&txn, &events).await?;
        txn.commit().await?;
        Ok(outcomes)
    }
}

/// Deletes up to [`MAX_RELEASE`] of an election's sealed ballots, returning them.
async fn take(txn: &impl ConnectionTrait, election_id: &str) -> Result<Vec<SealedBallot>, DbErr> {
    txn.query_all(statement(
        txn.get_database_backend(),
        format!(
            "DELETE FROM sealed_ballots WHERE receipt_hash IN \
             (SELECT receipt_hash FROM sealed_ballots WHERE election_id = $1 LIMIT {MAX_RELEASE}) \
             RETURNING sealed"
        ),
        [election_id.into()],
    ))
    .await?
    .iter()
    .map(|row| {
        Ok(SealedBallot {
            sealed: row.try_get("", "sealed")?,
        })
    })
    .collect()
}
