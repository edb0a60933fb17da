//! The Borda count, counted from a ranked ballot profile with weights in millionths
//! ([`Weight`]).
//!
//! **Points.** With n candidates in the election, the candidate in place i of a ballot
//! (i = 0 for its first choice) scores n − 1 − i points; a candidate the ballot leaves out
//! scores 0. Points are multiplied by the ballot's weight, so a candidate's total is in
//! millionths of a point: `points / ONE` is the classic count when every voter weighs 1.
//! A complete ranking gives n − 1, n − 2, …, 0, the usual "tournament" Borda count.
//!
//! **Partial rankings.** This is the variant that keeps every ranked candidate's usual points
//! and gives each unranked candidate the minimum, 0: the first, "simplest" method in the
//! truncated-ballots section of Wikipedia's "Borda count". It is not the "modified Borda
//! count", which gives the first of k ranked candidates k points, nor the averaged variant,
//! which shares the leftover points among the unranked. It rewards bullet voting, which is why
//! it is named here rather than chosen silently. Names that are not in `candidates`, and a
//! second mention of the same name, are skipped, and the places close up: on
//! `["A", "zz", "B"]` B is second.
//!
//! **Winner and tie-break, deterministic.** The winners are the candidates with the most
//! points. Among tied winners the one listed first in `candidates` (ballot order) wins. With
//! no ballot weight at all there is no winner.

use crate::{Ranked, Weight};

/// A Borda count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Each candidate's points in millionths of a point, in ballot order.
    pub points: Vec<(String, Weight)>,
    /// The candidates with the most points, in ballot order.
    pub winners: Vec<String>,
    /// The winner after the tie-break (the first of `winners`); `None` without ballots.
    pub winner: Option<String>,
}

/// Counts `profile` over `candidates` (distinct ids, in ballot order).
pub fn count(candidates: &[String], profile: &[Ranked]) -> Outcome {
    let n = candidates.len();
    let mut points: Vec<Weight> = vec![0; n];
    for ballot in profile {
        let mut seen = vec![false; n];
        let named = ballot
            .ranking
            .iter()
            .filter_map(|name| candidates.iter().position(|c| c == name))
            .filter(|&x| !std::mem::replace(&mut seen[x], true));
        for (place, x) in named.enumerate() {
            let worth = (n - 1 - place) as Weight;
            points[x] += worth * ballot.weight;
        }
    }
    let most = points.iter().copied().max().unwrap_or(0);
    let winners: Vec<String> = candidates
        .iter()
        .zip(&points)
        .filter(|(_, &p)| p == most)
        .map(|(c, _)| c.clone())
        .collect();
    let any_weight = profile.iter().any(|ballot| ballot.weight > 0);
    Outcome {
        points: candidates.iter().cloned().zip(points).collect(),
        winner: winners.first().filter(|_| any_weight).cloned(),
        winners,
    }
}

#[cfg(test)]
mod tests;
