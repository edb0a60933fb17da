//! Turns stored counts into the results an election shows, and recounts from the profile.

use std::collections::{BTreeMap, BTreeSet};

use proto_gen::{
    election::v1::{BallotMethod, Candidate, Election},
    result::v1::{CandidateTally, GetResultsResponse, RunoffRound},
};

use counting::{irv, Ranked, ONE};

use crate::store::{CountedBallot, Counts, Stored};
use kit::time::timestamp;

fn share(votes: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        votes as f64 / total as f64
    }
}

fn tally(candidate_id: &str, votes: u64, total: u64) -> CandidateTally {
    CandidateTally {
        candidate_id: candidate_id.to_owned(),
        votes,
        share: share(votes, total),
    }
}

fn method(election: &Election) -> BallotMethod {
    BallotMethod::try_from(election.method).unwrap_or(BallotMethod::Unspecified)
}

/// The results of `election` from what is stored.
pub fn compute(
    election: &Election,
    candidates: &[Candidate],
    stored: &Stored,
) -> GetResultsResponse {
    let method = method(election);
    let total = stored.total;
    let ids: Vec<String> = candidates.iter().map(|c| c.candidate_id.clone()).collect();
    let votes = |id: &str| {
        let counts = stored.tallies.get(id).cloned().unwrap_or_default();
        match method {
            BallotMethod::Approval => counts.mentions,
            _ => counts.first_preferences,
        }
    };
    let tallies: Vec<CandidateTally> = ids.iter().map(|id| tally(id, votes(id), total)).collect();
    let mut response = GetResultsResponse {
        election_id: election.election_id.clone(),
        tallies,
        total_ballots: total,
        rounds: Vec::new(),
        winner_candidate_id: String::new(),
        as_of: (stored.applied_at_ms > 0).then(|| timestamp(stored.applied_at_ms)),
    };
    if total == 0 {
        return response;
    }
    if method == BallotMethod::Ranked {
        // Every ballot weighs one vote here; the count works in millionths of a vote.
        let profile: Vec<Ranked> = stored
            .profile
            .iter()
            .map(|(selection, n)| Ranked {
                ranking: selection.split(',').map(str::to_owned).collect(),
                weight: n * ONE,
            })
            .collect();
        let outcome = irv::count(&ids, &profile);
        let votes = |weight: u64| weight / ONE;
        response.rounds = outcome
            .rounds
            .iter()
            .enumerate()
            .map(|(i, round)| {
                let counting: u64 = round.tallies.iter().map(|(_, v)| votes(*v)).sum();
                RunoffRound {
                    round: i as u32 + 1,
                    tallies: round
                        .tallies
                        .iter()
                        .map(|(id, v)| tally(id, votes(*v), counting))
                        .collect(),
                    eliminated: round.eliminated.clone().unwrap_or_default(),
                    transfers: round
                        .transfers
                        .iter()
                        .map(|(id, v)| (id.clone(), votes(*v)))
                        .collect(),
                    exhausted: votes(round.exhausted),
                }
            })
            .collect();
        response.winner_candidate_id = outcome.winner.unwrap_or_default();
    } else {
        // The most votes wins; a tie for the most leaves no winner to name.
        let top = response.tallies.iter().map(|t| t.votes).max().unwrap_or(0);
        let leaders: Vec<&CandidateTally> =
            response.tallies.iter().filter(|t| t.votes == top).collect();
        if let [only] = leaders.as_slice() {
            response.winner_candidate_id = only.candidate_id.clone();
        }
    }
    response
}

/// Adds `ballots` of one selection (candidate ids in the voter's order) to `tallies`.
fn count_selection<'a>(
    tallies: &mut BTreeMap<String, Counts>,
    selection: impl Iterator<Item = &'a str>,
    ballots: u64,
) {
    for (rank, candidate) in selection.enumerate() {
        let counts = tallies.entry(candidate.to_owned()).or_default();
        counts.mentions += ballots;
        if rank == 0 {
            counts.first_preferences += ballots;
        }
    }
}

/// What `ballots` add to each election's counts: only those in `fresh` (never counted
/// before), each once, since a batch can carry a redelivered ballot twice.
pub fn added(
    ballots: &[CountedBallot],
    fresh: &BTreeSet<String>,
    now_ms: i64,
) -> BTreeMap<String, Stored> {
    let mut added: BTreeMap<String, Stored> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for ballot in ballots {
        if !fresh.contains(&ballot.ballot_id) || !seen.insert(&ballot.ballot_id) {
            continue;
        }
        let counts = added
            .entry(ballot.election_id.clone())
            .or_insert_with(|| Stored {
                applied_at_ms: now_ms,
                ..Stored::default()
            });
        count_selection(
            &mut counts.tallies,
            ballot.selection.iter().map(String::as_str),
            1,
        );
        *counts
            .profile
            .entry(ballot.selection.join(","))
            .or_default() += 1;
        counts.total += 1;
    }
    added
}

/// Counts `added` (a batch's new ballots) into `counts`.
pub fn add(counts: &mut Stored, added: &Stored) {
    for (candidate, more) in &added.tallies {
        let held = counts.tallies.entry(candidate.clone()).or_default();
        held.first_preferences += more.first_preferences;
        held.mentions += more.mentions;
    }
    for (selection, ballots) in &added.profile {
        *counts.profile.entry(selection.clone()).or_default() += ballots;
    }
    counts.total += added.total;
    counts.applied_at_ms = added.applied_at_ms;
}

/// Counts and total rebuilt from the profile alone.
pub fn recount(stored: &Stored) -> Stored {
    let mut tallies: BTreeMap<String, Counts> = BTreeMap::new();
    for (selection, ballots) in &stored.profile {
        count_selection(&mut tallies, selection.split(','), *ballots);
    }
    Stored {
        tallies,
        profile: stored.profile.clone(),
        total: stored.profile.values().sum(),
        applied_at_ms: stored.applied_at_ms,
    }
}

/// Where the live counts differ from a recount, in words.
pub fn differences(live: &Stored, recounted: &Stored) -> Vec<String> {
    let mut found = Vec::new();
    if live.total != recounted.total {
        found.push(format!(
            "total ballots: live {} vs recount {}",
            live.total, recounted.total
        ));
    }
    let mut candidates: Vec<&String> = live
        .tallies
        .keys()
        .chain(recounted.tallies.keys())
        .collect();
    candidates.sort();
    candidates.dedup();
    for candidate in candidates {
        let (a, b) = (
            live.tallies.get(candidate).cloned().unwrap_or_default(),
            recounted
                .tallies
                .get(candidate)
                .cloned()
                .unwrap_or_default(),
        );
        if a != b {
            found.push(format!(
                "candidate {candidate}: live {}/{} vs recount {}/{} (first preferences/mentions)",
                a.first_preferences, a.mentions, b.first_preferences, b.mentions
            ));
        }
    }
    found
}
