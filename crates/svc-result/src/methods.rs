//! One question's results from its part of the stored profile, by its method: the counting
//! itself is the `counting` crate's; this turns its outcome into the wire's `QuestionResult`.
//!
//! `votes` counts ballots (first preferences for ranked methods, mentions for APPROVAL and
//! SCORE) and `weighted_votes` is what decides: the same weighted by the voters' weights for
//! PLURALITY, APPROVAL and ranked first preferences, Borda points, score totals. A tie for
//! the win goes to the tied candidate listed first on the ballot (for PLURALITY and APPROVAL
//! as for BORDA, SCORE and SCHULZE; IRV and STV break ties as their modules say).

use std::collections::BTreeMap;

use counting::{borda, irv, schulze, score, stv, weight::display, Scored, Weight};
use proto_gen::{
    election::v1::{BallotMethod, Question},
    result::v1::{
        CandidateTally, MatrixRow, QuestionResult, RunoffRound, SchulzeMatrices, StvRound, StvTally,
    },
};

use crate::profile::{self, Entry};

/// Ballot counts per candidate: first preferences and mentions, plain and weighted.
#[derive(Default)]
struct Counts {
    first: BTreeMap<String, (u64, Weight)>,
    mentions: BTreeMap<String, (u64, Weight)>,
}

fn counts(entries: &[(Entry<'_>, u64)]) -> Counts {
    let mut counts = Counts::default();
    for (entry, ballots) in entries {
        for (rank, candidate) in entry.candidates().enumerate() {
            let add = |map: &mut BTreeMap<String, (u64, Weight)>| {
                let held = map.entry(candidate.to_owned()).or_default();
                held.0 += ballots;
                held.1 += entry.weight * ballots;
            };
            add(&mut counts.mentions);
            if rank == 0 {
                add(&mut counts.first);
            }
        }
    }
    counts
}

fn share(votes: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        votes as f64 / total as f64
    }
}

pub fn tally(candidate_id: &str, votes: u64, weighted: Weight, total: u64) -> CandidateTally {
    CandidateTally {
        candidate_id: candidate_id.to_owned(),
        votes,
        share: share(votes, total),
        weighted_votes: display(weighted),
    }
}

/// The results of `question` over its candidates (ids in ballot order).
pub fn question_result(
    question: &Question,
    candidates: &[String],
    stored: &BTreeMap<String, u64>,
) -> QuestionResult {
    let method = BallotMethod::try_from(question.method).unwrap_or(BallotMethod::Unspecified);
    let entries: Vec<(Entry<'_>, u64)> =
        profile::of_question(stored, &question.question_id).collect();
    let abstained: u64 = entries
        .iter()
        .filter(|(e, _)| e.abstains())
        .map(|(_, n)| n)
        .sum();
    let answered: u64 = entries
        .iter()
        .filter(|(e, _)| !e.abstains())
        .map(|(_, n)| n)
        .sum();
    let weight: Weight = entries
        .iter()
        .filter(|(e, _)| !e.abstains())
        .map(|(e, n)| e.weight * n)
        .sum();
    let counts = counts(&entries);
    let by =
        |map: &BTreeMap<String, (u64, Weight)>, id: &str| map.get(id).copied().unwrap_or_default();
    let plain = |map: &BTreeMap<String, (u64, Weight)>| -> Vec<CandidateTally> {
        candidates
            .iter()
            .map(|id| {
                let (votes, weighted) = by(map, id);
                tally(id, votes, weighted, answered)
            })
            .collect()
    };
    let mut result = QuestionResult {
        question_id: question.question_id.clone(),
        method: method as i32,
        seats: question.seats.max(1),
        answered,
        abstained,
        weight: display(weight),
        ..Default::default()
    };
    let ranked = || profile::ranked(entries.iter().cloned());
    match method {
        BallotMethod::Approval | BallotMethod::Plurality | BallotMethod::Unspecified => {
            let map = if method == BallotMethod::Approval {
                &counts.mentions
            } else {
                &counts.first
            };
            result.tallies = plain(map);
            let as_scores: Vec<Scored> = profile::ranked(entries.iter().cloned())
                .into_iter()
                .map(|ballot| Scored {
                    scores: ballot.ranking.into_iter().map(|id| (id, 1)).collect(),
                    weight: ballot.weight,
                })
                .collect();
            result.winner_candidate_ids = score::count(candidates, 1, &as_scores)
                .winner
                .into_iter()
                .collect();
        }
        BallotMethod::Ranked => {
            result.tallies = plain(&counts.first);
            let outcome = irv::count(candidates, &ranked());
            result.rounds = runoff_rounds(&outcome);
            result.winner_candidate_ids = outcome.winner.into_iter().collect();
        }
        BallotMethod::Stv => {
            result.tallies = plain(&counts.first);
            let outcome = stv::count(candidates, result.seats as usize, &ranked());
            result.stv_rounds = stv_rounds(&outcome);
            result.winner_candidate_ids = outcome.elected;
        }
        BallotMethod::Schulze => {
            result.tallies = plain(&counts.first);
            let outcome = schulze::count(candidates, &ranked());
            result.schulze = Some(matrices(&outcome));
            result.winner_candidate_ids = outcome.winner.into_iter().collect();
        }
        BallotMethod::Borda => {
            let outcome = borda::count(candidates, &ranked());
            result.tallies = outcome
                .points
                .iter()
                .map(|(id, points)| tally(id, by(&counts.first, id).0, *points, answered))
                .collect();
            result.winner_candidate_ids = outcome.winner.into_iter().collect();
        }
        BallotMethod::Score => {
            let scored = profile::scored(entries.iter().cloned());
            let outcome = score::count(candidates, question.max_score, &scored);
            result.tallies = outcome
                .totals
                .iter()
                .map(|(id, total)| tally(id, by(&counts.mentions, id).0, *total, answered))
                .collect();
            result.winner_candidate_ids = outcome.winner.into_iter().collect();
        }
    }
    result
}

fn runoff_rounds(outcome: &irv::Outcome) -> Vec<RunoffRound> {
    // Ballot counts in the rounds are whole votes; `weighted_votes` keeps them exact.
    let votes = |weight: Weight| weight / counting::ONE;
    outcome
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
                    .map(|(id, v)| tally(id, votes(*v), *v, counting))
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
        .collect()
}

fn stv_rounds(outcome: &stv::Outcome) -> Vec<StvRound> {
    outcome
        .rounds
        .iter()
        .enumerate()
        .map(|(i, round)| {
            let (excluded, surplus_from, transfer_value) = match &round.action {
                stv::Action::FirstPreferences => Default::default(),
                stv::Action::Excluded(who) => (who.clone(), String::new(), String::new()),
                stv::Action::SurplusTransferred {
                    from,
                    transfer_value,
                    ..
                } => (String::new(), from.clone(), stv::display(*transfer_value)),
            };
            StvRound {
                round: i as u32 + 1,
                tallies: round
                    .tallies
                    .iter()
                    .map(|(id, votes)| StvTally {
                        candidate_id: id.clone(),
                        votes: stv::display(*votes),
                    })
                    .collect(),
                elected: round.elected.clone(),
                excluded,
                surplus_from,
                transfer_value,
                transfers: round
                    .transfers
                    .iter()
                    .map(|(id, v)| (id.clone(), stv::display(*v)))
                    .collect(),
                exhausted: stv::display(round.exhausted),
                quota: stv::display(round.quota),
            }
        })
        .collect()
}

fn matrices(outcome: &schulze::Outcome) -> SchulzeMatrices {
    let rows = |matrix: &Vec<Vec<Weight>>| -> Vec<MatrixRow> {
        matrix
            .iter()
            .map(|row| MatrixRow {
                values: row.iter().map(|v| display(*v)).collect(),
            })
            .collect()
    };
    SchulzeMatrices {
        candidate_ids: outcome.candidates.clone(),
        pairwise: rows(&outcome.pairwise),
        strongest: rows(&outcome.strongest),
        ranking: outcome.ranking.clone(),
    }
}
