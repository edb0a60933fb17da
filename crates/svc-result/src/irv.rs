//! Instant-runoff counting from a ballot profile (each distinct ranking with its count).
//!
//! Each round counts every ballot for its highest-ranked continuing candidate. A candidate
//! with more than half of the ballots still counting wins. Otherwise the candidate with the
//! fewest votes is eliminated and its ballots move to their next continuing preference.
//!
//! Tie-break for elimination, deterministic: among the candidates tied for fewest votes,
//! eliminate the one with fewer votes in the latest earlier round where they differ (the
//! "backwards" rule of Australian federal counts); if they were equal in every round,
//! eliminate the one listed last on the ballot.

use std::collections::BTreeMap;

/// One round of a count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    /// Votes per continuing candidate, in ballot order.
    pub tallies: Vec<(String, u64)>,
    /// Eliminated after this round; `None` in the final round.
    pub eliminated: Option<String>,
    /// Votes that moved from the eliminated candidate, by receiving candidate.
    pub transfers: BTreeMap<String, u64>,
    /// Ballots with no continuing preference in this round.
    pub exhausted: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub rounds: Vec<Round>,
    pub winner: Option<String>,
}

/// Counts `profile` over `candidates` (in ballot order). Rankings may name candidates that
/// are not listed; those preferences are skipped.
pub fn count(candidates: &[String], profile: &[(Vec<String>, u64)]) -> Outcome {
    let mut continuing: Vec<String> = candidates.to_vec();
    let mut rounds: Vec<Round> = Vec::new();
    let mut history: Vec<BTreeMap<String, u64>> = Vec::new();
    loop {
        let mut votes: BTreeMap<String, u64> = continuing.iter().map(|c| (c.clone(), 0)).collect();
        let mut exhausted = 0;
        for (ranking, ballots) in profile {
            match top_choice(ranking, &continuing) {
                Some(choice) => *votes.entry(choice.to_owned()).or_default() += ballots,
                None => exhausted += ballots,
            }
        }
        let counting: u64 = votes.values().sum();
        let tallies: Vec<(String, u64)> =
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
    votes: &BTreeMap<String, u64>,
    history: &[BTreeMap<String, u64>],
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
    profile: &[(Vec<String>, u64)],
) -> BTreeMap<String, u64> {
    let remaining: Vec<String> = continuing.iter().filter(|c| *c != loser).cloned().collect();
    let mut moved = BTreeMap::new();
    for (ranking, ballots) in profile {
        if top_choice(ranking, continuing) == Some(loser) {
            if let Some(next) = top_choice(ranking, &remaining) {
                *moved.entry(next.to_owned()).or_default() += ballots;
            }
        }
    }
    moved
}

#[cfg(test)]
mod tests;
