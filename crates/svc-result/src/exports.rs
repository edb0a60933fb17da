//! Results and ballots as files other tools read: the results as JSON or CSV with their
//! rounds, and after the close the ballots as ABIF (the Aggregated Ballot Information Format)
//! or BLT (the ballot format of ERS, OpenSTV and Droop), so anyone can recount.
//!
//! Ballot files hold the profile: each distinct ballot once, with how many cast it, sorted by
//! that count and then by the ballot itself. Nothing in them follows the order of casting, and
//! nothing names a voter.

use std::collections::BTreeMap;

use counting::{weight::display, Weight};
use proto_gen::{
    election::v1::{BallotMethod, Candidate, Question},
    result::v1::{CandidateTally, GetResultsResponse, QuestionResult, RunoffRound},
};
use serde_json::{json, Value};

use crate::{elections::ElectionInfo, profile, results};

/// One question of an election, with its candidates in ballot order.
pub struct QuestionFile<'a> {
    pub info: &'a ElectionInfo,
    pub question: Question,
    pub candidates: Vec<&'a Candidate>,
}

impl<'a> QuestionFile<'a> {
    /// The question `question_id` (empty: the first), or `None` when it has no such question.
    pub fn of(info: &'a ElectionInfo, question_id: &str) -> Option<Self> {
        let questions = clients::questions_of(&info.election);
        let question = match question_id {
            "" => questions.first().cloned(),
            id => questions.into_iter().find(|q| q.question_id == id),
        }?;
        let ids = results::candidates_of(&info.election, &info.candidates, &question.question_id);
        let candidates = ids
            .iter()
            .filter_map(|id| info.candidates.iter().find(|c| &c.candidate_id == id))
            .collect();
        Some(Self {
            info,
            question,
            candidates,
        })
    }

    fn method(&self) -> BallotMethod {
        BallotMethod::try_from(self.question.method).unwrap_or(BallotMethod::Unspecified)
    }

    /// The election's title, and the question's after it when it has one.
    fn title(&self) -> String {
        match self.question.title.as_str() {
            "" => self.info.election.title.clone(),
            question => format!("{}: {question}", self.info.election.title),
        }
    }

    /// Each candidate id's 1-based position among the question's candidates.
    fn positions(&self) -> BTreeMap<&str, usize> {
        self.candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (c.candidate_id.as_str(), i + 1))
            .collect()
    }
}

/// Candidate names by id.
fn names(info: &ElectionInfo) -> BTreeMap<&str, &str> {
    info.candidates
        .iter()
        .map(|c| (c.candidate_id.as_str(), c.name.as_str()))
        .collect()
}

fn tallies_json(tallies: &[CandidateTally], names: &BTreeMap<&str, &str>) -> Vec<Value> {
    tallies
        .iter()
        .map(|t| {
            json!({
                "candidate_id": t.candidate_id,
                "name": names.get(t.candidate_id.as_str()).copied().unwrap_or_default(),
                "votes": t.votes,
                "weighted_votes": t.weighted_votes,
                "share": t.share,
            })
        })
        .collect()
}

fn runoff_json(rounds: &[RunoffRound], names: &BTreeMap<&str, &str>) -> Vec<Value> {
    rounds
        .iter()
        .map(|round| {
            json!({
                "round": round.round,
                "tallies": tallies_json(&round.tallies, names),
                "eliminated": round.eliminated,
                "transfers": round.transfers,
                "exhausted": round.exhausted,
            })
        })
        .collect()
}

fn question_json(question: &QuestionResult, names: &BTreeMap<&str, &str>) -> Value {
    let method = BallotMethod::try_from(question.method).unwrap_or(BallotMethod::Unspecified);
    let stv: Vec<Value> = question
        .stv_rounds
        .iter()
        .map(|round| {
            json!({
                "round": round.round,
                "votes": round.tallies.iter().map(|t| (t.candidate_id.clone(), t.votes.clone())).collect::<BTreeMap<_, _>>(),
                "elected": round.elected,
                "excluded": round.excluded,
                "surplus_from": round.surplus_from,
                "transfer_value": round.transfer_value,
                "transfers": round.transfers,
                "exhausted": round.exhausted,
                "quota": round.quota,
            })
        })
        .collect();
    let schulze = question.schulze.as_ref().map(|m| {
        let rows = |rows: &[proto_gen::result::v1::MatrixRow]| -> Vec<Vec<String>> {
            rows.iter().map(|r| r.values.clone()).collect()
        };
        json!({
            "candidate_ids": m.candidate_ids,
            "pairwise": rows(&m.pairwise),
            "strongest": rows(&m.strongest),
            "ranking": m.ranking,
        })
    });
    json!({
        "question_id": question.question_id,
        "method": method.as_str_name(),
        "seats": question.seats,
        "answered": question.answered,
        "abstained": question.abstained,
        "weight": question.weight,
        "winner_candidate_ids": question.winner_candidate_ids,
        "tallies": tallies_json(&question.tallies, names),
        "rounds": runoff_json(&question.rounds, names),
        "stv_rounds": stv,
        "schulze": schulze,
    })
}

/// The results as one JSON document: the first question's results at the top, as before
/// questions, and every question's under `questions`.
pub fn results_json(info: &ElectionInfo, results: &GetResultsResponse) -> String {
    let names = names(info);
    let method = BallotMethod::try_from(info.election.method).unwrap_or(BallotMethod::Unspecified);
    let document = json!({
        "election_id": results.election_id,
        "title": info.election.title,
        "method": method.as_str_name(),
        "total_ballots": results.total_ballots,
        "winner_candidate_id": results.winner_candidate_id,
        "tallies": tallies_json(&results.tallies, &names),
        "rounds": runoff_json(&results.rounds, &names),
        "questions": results.questions.iter().map(|q| question_json(q, &names)).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// A CSV field, quoted when it must be.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The results as CSV: per question, the final tallies (round `final`), then one row per
/// candidate and round (instant runoff or STV), with who was eliminated or excluded after it.
/// The columns from before questions come first.
pub fn results_csv(info: &ElectionInfo, results: &GetResultsResponse) -> String {
    let names = names(info);
    let mut csv = String::from(
        "round,candidate_id,candidate_name,votes,share,eliminated,question_id,weighted_votes\n",
    );
    let mut row = |question: &str,
                   round: &str,
                   id: &str,
                   votes: u64,
                   share: f64,
                   out: bool,
                   weighted: &str| {
        let name = names.get(id).copied().unwrap_or_default();
        csv.push_str(&format!(
            "{round},{},{},{votes},{share:.6},{out},{},{}\n",
            field(id),
            field(name),
            field(question),
            field(weighted)
        ));
    };
    for question in &results.questions {
        let q = question.question_id.as_str();
        for t in &question.tallies {
            row(
                q,
                "final",
                &t.candidate_id,
                t.votes,
                t.share,
                false,
                &t.weighted_votes,
            );
        }
        for round in &question.rounds {
            for t in &round.tallies {
                let out = round.eliminated == t.candidate_id;
                row(
                    q,
                    &round.round.to_string(),
                    &t.candidate_id,
                    t.votes,
                    t.share,
                    out,
                    &t.weighted_votes,
                );
            }
        }
        for round in &question.stv_rounds {
            for t in &round.tallies {
                let out = round.excluded == t.candidate_id;
                row(
                    q,
                    &round.round.to_string(),
                    &t.candidate_id,
                    0,
                    0.0,
                    out,
                    &t.votes,
                );
            }
        }
    }
    csv
}

/// The question's answered ballots, the most weight first, each as its choices with the
/// total weight that gave them (ballots of different weights with one answer merge).
fn ballots<'a>(
    question: &'a QuestionFile<'_>,
    profile: &'a BTreeMap<String, u64>,
) -> Vec<(Weight, Vec<(&'a str, u32)>)> {
    let mut merged: BTreeMap<Vec<(&'a str, u32)>, Weight> = BTreeMap::new();
    for (entry, n) in profile::of_question(profile, &question.question.question_id) {
        if !entry.abstains() {
            *merged.entry(entry.choices().collect()).or_default() += entry.weight * n;
        }
    }
    let mut ballots: Vec<(Weight, Vec<(&str, u32)>)> = merged
        .into_iter()
        .map(|(choices, w)| (w, choices))
        .collect();
    ballots.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    ballots
}

/// The ballots of one question as ABIF: candidates as tokens `c1`, `c2`, … in ballot order
/// with their names, then `count:c2>c1` lines (ranked and plurality), `count:c1=c3`
/// (approval) or `count:c1/5=c2/3` (score). Counts are weights: ballot counts when every
/// voter weighs 1.
pub fn abif(question: &QuestionFile<'_>, profile: &BTreeMap<String, u64>) -> String {
    let positions = question.positions();
    let method = question.method();
    let separator = if matches!(method, BallotMethod::Approval | BallotMethod::Score) {
        "="
    } else {
        ">"
    };
    let title = question.title().replace(['\n', '\r', '"'], " ");
    let mut text = format!("{{\"title\": \"{title}\"}}\n");
    for (i, candidate) in question.candidates.iter().enumerate() {
        // A bracketed name ends at its first ']'.
        let name = candidate.name.replace([']', '\n', '\r'], " ");
        text.push_str(&format!("=c{}:[{name}]\n", i + 1));
    }
    for (weight, choices) in ballots(question, profile) {
        let tokens: Vec<String> = choices
            .iter()
            .filter_map(|(id, score)| {
                let p = positions.get(id)?;
                Some(match method {
                    BallotMethod::Score => format!("c{p}/{score}"),
                    _ => format!("c{p}"),
                })
            })
            .collect();
        text.push_str(&format!("{}:{}\n", display(weight), tokens.join(separator)));
    }
    text
}

/// The ballots of one question as BLT: `candidates seats`, one `weight pref pref … 0` line
/// per distinct ballot, `0`, the candidates' names in ballot order and the title, quoted.
pub fn blt(question: &QuestionFile<'_>, profile: &BTreeMap<String, u64>) -> String {
    let positions = question.positions();
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "'"));
    let mut text = format!(
        "{} {}\n",
        question.candidates.len(),
        question.question.seats.max(1)
    );
    for (weight, choices) in ballots(question, profile) {
        let prefs: Vec<String> = choices
            .iter()
            .filter_map(|(id, _)| positions.get(id).map(usize::to_string))
            .collect();
        text.push_str(&format!("{} {} 0\n", display(weight), prefs.join(" ")));
    }
    text.push_str("0\n");
    for candidate in &question.candidates {
        text.push_str(&quoted(&candidate.name));
        text.push('\n');
    }
    text.push_str(&quoted(&question.title()));
    text.push('\n');
    text
}
