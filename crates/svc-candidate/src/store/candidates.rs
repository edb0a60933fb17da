//! Candidates: reading an election's list in ballot order, and writing a change to it
//! (inside the transaction that holds the election row).

use std::collections::HashSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use super::{entities::candidate, CandidateChange, CandidateRecord, StoreError};

fn to_candidate(model: candidate::Model) -> CandidateRecord {
    CandidateRecord {
        id: model.id,
        election_id: model.election_id.clone(),
        name: model.name,
        party: model.party,
        description: model.description,
        image_url: model.image_url,
        ballot_position: model.ballot_position,
        // Stored before questions: the first question, whose id is the election's.
        question_id: if model.question_id.is_empty() {
            model.election_id
        } else {
            model.question_id
        },
    }
}

/// The election's candidates in ballot order.
pub(super) async fn ordered(
    db: &impl ConnectionTrait,
    election_id: &str,
) -> Result<Vec<CandidateRecord>, StoreError> {
    Ok(candidate::Entity::find()
        .filter(candidate::Column::ElectionId.eq(election_id))
        .order_by_asc(candidate::Column::BallotPosition)
        .order_by_asc(candidate::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_candidate)
        .collect())
}

/// Applies `change` to the election's list and returns the list after it.
pub(super) async fn change(
    txn: &DatabaseTransaction,
    election_id: &str,
    change: CandidateChange,
) -> Result<Vec<CandidateRecord>, StoreError> {
    let before = ordered(txn, election_id).await?;
    let after = apply(before.clone(), change)?;
    let kept: HashSet<&str> = after.iter().map(|c| c.id.as_str()).collect();
    for gone in before.iter().filter(|c| !kept.contains(c.id.as_str())) {
        candidate::Entity::delete_by_id(gone.id.clone())
            .exec(txn)
            .await?;
    }
    for candidate in &after {
        if before.iter().any(|b| b == candidate) {
            continue;
        }
        let model = candidate::ActiveModel {
            id: Set(candidate.id.clone()),
            election_id: Set(election_id.to_owned()),
            name: Set(candidate.name.clone()),
            party: Set(candidate.party.clone()),
            description: Set(candidate.description.clone()),
            image_url: Set(candidate.image_url.clone()),
            ballot_position: Set(candidate.ballot_position),
            question_id: Set(candidate.question_id.clone()),
        };
        if before.iter().any(|b| b.id == candidate.id) {
            model.update(txn).await?;
        } else {
            model.insert(txn).await?;
        }
    }
    Ok(after)
}

/// The candidate list after `change`, renumbered 1..n.
fn apply(
    mut list: Vec<CandidateRecord>,
    change: CandidateChange,
) -> Result<Vec<CandidateRecord>, StoreError> {
    match change {
        CandidateChange::Add(added) => {
            let at = match usize::try_from(added.ballot_position) {
                Ok(position) if position >= 1 => (position - 1).min(list.len()),
                _ => list.len(),
            };
            list.insert(at, added);
        }
        CandidateChange::Update(updated) => {
            let slot = list
                .iter_mut()
                .find(|c| c.id == updated.id)
                .ok_or(StoreError::CandidateNotFound)?;
            *slot = CandidateRecord {
                ballot_position: slot.ballot_position,
                ..updated
            };
        }
        CandidateChange::RetainQuestions(questions) => {
            list.retain(|c| questions.contains(&c.question_id));
        }
        CandidateChange::Remove(id) => {
            let before = list.len();
            list.retain(|c| c.id != id);
            if list.len() == before {
                return Err(StoreError::CandidateNotFound);
            }
        }
        CandidateChange::Reorder(ids) => {
            let distinct: HashSet<&String> = ids.iter().collect();
            if ids.len() != list.len() || distinct.len() != ids.len() {
                return Err(StoreError::BadOrder);
            }
            let mut reordered = Vec::with_capacity(list.len());
            for id in &ids {
                let index = list
                    .iter()
                    .position(|c| &c.id == id)
                    .ok_or(StoreError::BadOrder)?;
                reordered.push(list.swap_remove(index));
            }
            list = reordered;
        }
    }
    for (index, candidate) in list.iter_mut().enumerate() {
        candidate.ballot_position = index as i64 + 1;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, position: i64) -> CandidateRecord {
        CandidateRecord {
            id: id.into(),
            election_id: "e".into(),
            name: id.into(),
            party: String::new(),
            description: String::new(),
            image_url: String::new(),
            ballot_position: position,
            question_id: "e".into(),
        }
    }

    fn ids(list: &[CandidateRecord]) -> Vec<(&str, i64)> {
        list.iter()
            .map(|c| (c.id.as_str(), c.ballot_position))
            .collect()
    }

    #[test]
    fn positions_stay_dense_through_every_change() {
        let list = vec![candidate("a", 1), candidate("b", 2)];
        let list = apply(list, CandidateChange::Add(candidate("c", 1))).expect("add first");
        assert_eq!(ids(&list), [("c", 1), ("a", 2), ("b", 3)]);
        let list = apply(list, CandidateChange::Add(candidate("d", 0))).expect("append");
        assert_eq!(ids(&list), [("c", 1), ("a", 2), ("b", 3), ("d", 4)]);
        let list = apply(list, CandidateChange::Remove("a".into())).expect("remove");
        assert_eq!(ids(&list), [("c", 1), ("b", 2), ("d", 3)]);
        let list = apply(
            list,
            CandidateChange::Reorder(vec!["d".into(), "c".into(), "b".into()]),
        )
        .expect("reorder");
        assert_eq!(ids(&list), [("d", 1), ("c", 2), ("b", 3)]);
        assert!(matches!(
            apply(
                list.clone(),
                CandidateChange::Reorder(vec!["d".into(), "d".into(), "b".into()])
            ),
            Err(StoreError::BadOrder)
        ));
        assert!(matches!(
            apply(list, CandidateChange::Remove("zz".into())),
            Err(StoreError::CandidateNotFound)
        ));
    }
}
