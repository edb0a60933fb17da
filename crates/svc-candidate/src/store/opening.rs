//! What opening an election checks, inside the transaction that holds its row: enough
//! candidates for every question, and no roll weight that would single ballots out unless an
//! admin has accepted it. A candidate removed or a roll imported at the same moment waits for
//! the row, so the checks see what opens.

use sea_orm::DatabaseTransaction;

use super::{candidates, rolls, ElectionRecord, OpeningChecks, StoreError};

pub(super) async fn check(
    txn: &DatabaseTransaction,
    election: &ElectionRecord,
    checks: OpeningChecks,
) -> Result<(), StoreError> {
    let list = candidates::ordered(txn, &election.id).await?;
    if list.len() < checks.min_candidates {
        return Err(StoreError::TooFewCandidates(list.len()));
    }
    for question in &election.questions {
        let standing = list
            .iter()
            .filter(|c| c.question_id == question.question_id)
            .count();
        if let Some(why) = crate::questions::not_ready(question, standing) {
            return Err(StoreError::NotReady(why));
        }
    }
    if checks.min_weight_group == 0 {
        return Ok(());
    }
    let groups = rolls::weights(txn, &election.id).await?;
    // One weight for everyone identifies no one, however small the roll.
    if groups.len() < 2 {
        return Ok(());
    }
    let rare: Vec<String> = groups
        .iter()
        .filter(|(_, entries)| *entries < checks.min_weight_group)
        .map(|(weight, _)| counting::weight::display(*weight as u64))
        .collect();
    if rare.is_empty() {
        Ok(())
    } else {
        Err(StoreError::IdentifyingWeights {
            weights: rare,
            min: checks.min_weight_group,
        })
    }
}
