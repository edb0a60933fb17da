//! Score (range) voting, counted from a score ballot profile with weights in millionths
//! ([`Weight`]).
//!
//! **Totals.** Each ballot gives each candidate a score from 0 to `max`; a candidate the
//! ballot leaves out scores 0. A candidate's total is the sum over ballots of score × weight,
//! in millionths of a point: `total / ONE` is the plain sum when every voter weighs 1. Every
//! candidate is scored on every ballot (left out means 0), so ordering by total is the same as
//! ordering by average score.
//!
//! **Input assumptions.** Ballots are validated before they are stored, so a score above
//! `max` should not reach the count; if one does it is clamped to `max` rather than allowed to
//! outweigh honest ballots. A name that is not in `candidates` is skipped, and when a ballot
//! scores the same candidate twice only the first score counts.
//!
//! **Winner and tie-break, deterministic.** The winners are the candidates with the highest
//! total. Among tied winners the one listed first in `candidates` (ballot order) wins. With no
//! ballot weight at all there is no winner.

use crate::{Scored, Weight};

/// A score-voting count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Each candidate's total in millionths of a point, in ballot order.
    pub totals: Vec<(String, Weight)>,
    /// The candidates with the highest total, in ballot order.
    pub winners: Vec<String>,
    /// The winner after the tie-break (the first of `winners`); `None` without ballots.
    pub winner: Option<String>,
}

/// Counts `profile` over `candidates` (distinct ids, in ballot order) on a 0..=`max` scale.
pub fn count(candidates: &[String], max: u32, profile: &[Scored]) -> Outcome {
    let n = candidates.len();
    let mut totals: Vec<Weight> = vec![0; n];
    for ballot in profile {
        let mut seen = vec![false; n];
        for (name, score) in &ballot.scores {
            let Some(x) = candidates.iter().position(|c| c == name) else {
                continue;
            };
            if !std::mem::replace(&mut seen[x], true) {
                totals[x] += Weight::from((*score).min(max)) * ballot.weight;
            }
        }
    }
    let highest = totals.iter().copied().max().unwrap_or(0);
    let winners: Vec<String> = candidates
        .iter()
        .zip(&totals)
        .filter(|(_, &t)| t == highest)
        .map(|(c, _)| c.clone())
        .collect();
    let any_weight = profile.iter().any(|ballot| ballot.weight > 0);
    Outcome {
        totals: candidates.iter().cloned().zip(totals).collect(),
        winner: winners.first().filter(|_| any_weight).cloned(),
        winners,
    }
}

#[cfg(test)]
mod tests;
