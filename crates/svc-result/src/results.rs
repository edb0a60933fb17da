//! Turns stored counts into the results an election shows, and recounts from the profile.

use std::collections::{BTreeMap, BTreeSet};

use proto_gen::{
    election::v1::{Candidate, Election},
    result::v1::{CandidateTally, GetResultsResponse, QuestionResult},
};

use crate::{
    methods, profile,
    store::{CountedBallot, Counts, Stored},
};
use kit::time::timestamp;

/// The candidate ids of a question, in ballot order.
pub fn candidates_of(
    election: &Election,
    candidates: &[Candidate],
    question_id: &str,
) -> Vec<String> {
    candidates
        .iter()
        .filter(|c| clients::question_of(election, c) == question_id)
        .map(|c| c.candidate_id.clone())
        .collect()
}

/// The results of `election` from what is stored: every question's, the first's repeated in
/// the fields from before questions.
pub fn compute(
    election: &Election,
    candidates: &[Candidate],
    stored: &Stored,
) -> GetResultsResponse {
    let questions: Vec<QuestionResult> = clients::questions_of(election)
        .iter()
        .map(|question| {
            let ids = candidates_of(election, candidates, &question.question_id);
            methods::question_result(question, &ids, &stored.profile)
        })
        .collect();
    let first = questions.first().cloned().unwrap_or_default();
    GetResultsResponse {
        election_id: election.election_id.clone(),
        // Shares of the first question's tallies are of every ballot counted, as before.
        tallies: first
            .tallies
            .iter()
            .map(|t| methods::tally(&t.candidate_id, t.votes, 0, stored.total))
            .zip(&first.tallies)
            .map(|(shared, t)| CandidateTally {
                weighted_votes: t.weighted_votes.clone(),
                ..shared
            })
            .collect(),
        total_ballots: stored.total,
        rounds: first.rounds.clone(),
        winner_candidate_id: first
            .winner_candidate_ids
            .first()
            .cloned()
            .unwrap_or_default(),
        as_of: (stored.applied_at_ms > 0).then(|| timestamp(stored.applied_at_ms)),
        questions,
    }
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
        for (question, answer) in &ballot.answers {
            let key = profile::key(question, ballot.weight, answer);
            if let Some(entry) = profile::parse(&key) {
                count_selection(&mut counts.tallies, entry.candidates(), 1);
            }
            *counts.profile.entry(key).or_default() += 1;
        }
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

/// Counts and total rebuilt from the profile alone. Every ballot has one entry per question,
/// so each question's entries add up to the total.
pub fn recount(stored: &Stored) -> Stored {
    let mut tallies: BTreeMap<String, Counts> = BTreeMap::new();
    let mut per_question: BTreeMap<&str, u64> = BTreeMap::new();
    for (key, ballots) in &stored.profile {
        let Some(entry) = profile::parse(key) else {
            continue;
        };
        count_selection(&mut tallies, entry.candidates(), *ballots);
        *per_question.entry(entry.question).or_default() += ballots;
    }
    Stored {
        tallies,
        profile: stored.profile.clone(),
        total: per_question.values().copied().max().unwrap_or(0),
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
