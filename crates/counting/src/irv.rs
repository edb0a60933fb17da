//! Instant-runoff counting from a ballot profile (each distinct ranking with its weight).
//!
//! Votes are weights in millionths ([`Weight`]): a tally of 3 voters of weight 1 is
//! `3 * ONE` (see [`crate::ONE`]), so weighted counts stay exact integers.
//!
//! Each round counts every ballot for its highest-ranked continuing candidate. A candidate
//! with more than half of the vote weight still counting wins (a ballot with no continuing
//! preference is exhausted and stops counting). Otherwise the candidate with the fewest votes
//! is eliminated, one per round, and its ballots move to their next continuing preference.
//! The last continuing candidate wins; with no ballot weight at all there is no winner.
//!
//! Tie-break for elimination, deterministic: among the candidates tied for fewest votes,
//! eliminate the one with fewer votes in the latest earlier round where they differ (the
//! "backwards" rule of Australian federal counts); if they were equal in every round,
//! eliminate the one listed last on the ballot.

use std::collections::BTreeMap;

use crate::{Ranked, Weight};

/// One round of a count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    /// Votes per continuing candidate, in ballot order.
    pub tallies: Vec<(String, Weight)>,
    /// Eliminated after this round; `None` in the final round.
    pub eliminated: Option<String>,
    /// Votes that moved from the eliminated candidate, by receiving candidate.
    pub transfers: BTreeMap<String, Weight>,
    /// Ballots with no continuing preference in this round.
    pub exhausted: Weight,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub rounds: Vec<Round>,
    pub winner: Option<String>,
}

/// Counts `profile` over `candidates` (in ballot order). Rankings may name candidates that
/// are not listed; those preferences are skipped.
pub fn count(candidates: &[String], profile: &[Ranked]) -> Outcome {
    let mut continuing: Vec<String> = candidates.to_vec();
    let mut rounds: Vec<Round> = Vec::new();
    let mut history: Vec<BTreeMap<String, Weight>> = Vec::new();
    loop {
        let mut votes: BTreeMap<String, Weight> =
            continuing.iter().map(|c| (c.clone(), 0)).collect();
        let mut exhausted = 0;
        for ballot in profile {
            match top_choice(&ballot.ranking, &continuing) {
                Some(choice) => *votes.entry(choice.to_owned()).or_default() += ballot.weight,
                None => exhausted += ballot.weight,
            }
        }
        let counting: Weight = votes.values().sum();
        let tallies: Vec<(String, Weight)> =
            continuing.iter().map(|c| (c.clone(), votes[c])).collect();
        let leader = tallies.iter().max_by_key(|(_, v)| *v).cloned();
        let majority = leader
            .as_ref()
            .filter(|(_, v)| counting > 0 && *v * 2 > counting)
            .map(|(c, _)| c.clone());
        let winner = majority.or_else(|| (continuing.len() == 1).then(|| continuing[0].clone()));
        if winner.is_some() || continuing.is_empty() || counting == 0 {
            rounds.push(Round {
                tallies,
                eliminated: None,
                transfers: BTreeMap::new(),
                exhausted,
            });
            return Outcome { rounds, winner };
        }
        let loser = lowest(&continuing, &votes, &history);
        let transfers = transfers_from(&loser, &continuing, profile);
        continuing.retain(|c| *c != loser);
        history.push(votes);
        rounds.push(Round {
            tallies,
            eliminated: Some(loser),
            transfers,
            exhausted,
        });
    }
}

fn top_choice<'a>(ranking: &'a [String], continuing: &[String]) -> Option<&'a str> {
    ranking
        .iter()
        .find(|c| continuing.contains(c))
        .map(String::as_str)
}

/// The candidate to eliminate, by the documented tie-break.
fn lowest(
    continuing: &[String],
    votes: &BTreeMap<String, Weight>,
    history: &[BTreeMap<String, Weight>],
) -> String {
    let fewest = continuing.iter().map(|c| votes[c]).min().unwrap_or(0);
    let mut tied: Vec<&String> = continuing.iter().filter(|c| votes[*c] == fewest).collect();
    for earlier in history.iter().rev() {
        if tied.len() == 1 {
            break;
        }
        let least = tied.iter().map(|c| earlier[*c]).min().unwrap_or(0);
        tied.retain(|c| earlier[*c] == least);
    }
    // Still tied: the one listed last on the ballot (continuing keeps ballot order).
    tied.last().map(|c| (*c).clone()).unwrap_or_default()
}

fn transfers_from(
    loser: &str,
    continuing: &[String],
    profile: &[Ranked],
) -> BTreeMap<String, Weight> {
    let remaining: Vec<String> = continuing.iter().filter(|c| *c != loser).cloned().collect();
    let mut moved = BTreeMap::new();
    for ballot in profile {
        if top_choice(&ballot.ranking, continuing) == Some(loser) {
            if let Some(next) = top_choice(&ballot.ranking, &remaining) {
                *moved.entry(next.to_owned()).or_default() += ballot.weight;
            }
        }
    }
    moved
}

#[cfg(test)]
mod tests;
