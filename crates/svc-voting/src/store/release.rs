//! The mix's side of the store: which elections have sealed ballots waiting, and the release
//! of a batch, in a transaction of its own, so no released ballot shares a transaction id,
//! a commit time or a run of row positions with the participation it came with.

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
        open: impl FnOnce(Vec<SealedBallot>) -> Result<Vec<Released>, String>,
    ) -> Result<usize, DbErr> {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await?;
        let taken: Vec<SealedBallot> = txn
            .query_all(statement(
                backend,
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
            .collect::<Result<_, DbErr>>()?;
        if taken.is_empty() || taken.len() < min {
            txn.rollback().await?;
            return Ok(0);
        }
        let mut opened = open(taken).map_err(DbErr::Custom)?;
        opened.shuffle(&mut rand::thread_rng());
        let rows: Vec<[Value; 3]> = opened
            .iter()
            .map(|ballot| {
                [
                    ballot.ballot_id.clone().into(),
                    election_id.into(),
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
        let events: Vec<Event> = opened.into_iter().map(|ballot| ballot.event).collect();
        kit::outbox::append_unlinkable(&txn, &events).await?;
        txn.commit().await?;
        Ok(rows.len())
    }
}
