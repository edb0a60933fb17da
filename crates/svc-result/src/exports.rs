//! Results and ballots as files other tools read: the results as JSON or CSV with their
//! rounds, and after the close the ballots as ABIF (the Aggregated Ballot Information Format)
//! or BLT (the ballot format of ERS, OpenSTV and Droop), so anyone can recount.
//!
//! Ballot files hold the profile: each distinct ballot once, with how many cast it, sorted by
//! that count and then by the ballot itself. Nothing in them follows the order of casting, and
//! nothing names a voter.

use std::collections::BTreeMap;

use proto_gen::{
    election::v1::BallotMethod,
    result::v1::{CandidateTally, GetResultsResponse},
};
use serde_json::{json, Value};

use crate::elections::ElectionInfo;

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
                "share": t.share,
            })
        })
        .collect()
}

/// The results as one JSON document.
pub fn results_json(info: &ElectionInfo, results: &GetResultsResponse) -> String {
    let names = names(info);
    let method = BallotMethod::try_from(info.election.method).unwrap_or(BallotMethod::Unspecified);
    let rounds: Vec<Value> = results
        .rounds
        .iter()
        .map(|round| {
            json!({
                "round": round.round,
                "tallies": tallies_json(&round.tallies, &names),
                "eliminated": round.eliminated,
                "transfers": round.transfers,
                "exhausted": round.exhausted,
            })
        })
        .collect();
    let document = json!({
        "election_id": results.election_id,
        "title": info.election.title,
        "method": method.as_str_name(),
        "total_ballots": results.total_ballots,
        "winner_candidate_id": results.winner_candidate_id,
        "tallies": tallies_json(&results.tallies, &names),
        "rounds": rounds,
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

/// The results as CSV: the final tallies (round `final`), then one row per candidate and
/// instant-runoff round, with who was eliminated after it.
pub fn results_csv(info: &ElectionInfo, results: &GetResultsResponse) -> String {
    let names = names(info);
    let mut csv = String::from("round,candidate_id,candidate_name,votes,share,eliminated\n");
    let mut row = |round: &str, tally: &CandidateTally, eliminated: bool| {
        let name = names
            .get(tally.candidate_id.as_str())
            .copied()
            .unwrap_or_default();
        csv.push_str(&format!(
            "{round},{},{},{},{:.6},{eliminated}\n",
            field(&tally.candidate_id),
            field(name),
            tally.votes,
            tally.share
        ));
    };
    for tally in &results.tallies {
        row("final", tally, false);
    }
    for round in &results.rounds {
        for tally in &round.tallies {
            row(
                &round.round.to_string(),
                tally,
                round.eliminated == tally.candidate_id,
            );
        }
    }
    csv
}

/// The profile's ballots, most cast first, each as its candidate ids.
fn ballots(profile: &BTreeMap<String, u64>) -> Vec<(u64, Vec<&str>)> {
    let mut ballots: Vec<(u64, Vec<&str>)> = profile
        .iter()
        .filter(|(selection, _)| !selection.is_empty())
        .map(|(selection, n)| (*n, selection.split(',').collect()))
        .collect();
    ballots.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    ballots
}

/// Each candidate id's 1-based position on the ballot.
fn positions(info: &ElectionInfo) -> BTreeMap<&str, usize> {
    info.candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.candidate_id.as_str(), i + 1))
        .collect()
}

/// The ballots as ABIF: candidates as tokens `c1`, `c2`, … in ballot order with their names,
/// then `count:c2>c1` lines (ranked and plurality) or `count:c1=c3` lines (approval).
pub fn abif(info: &ElectionInfo, profile: &BTreeMap<String, u64>) -> String {
    let positions = positions(info);
    let method = BallotMethod::try_from(info.election.method).unwrap_or(BallotMethod::Unspecified);
    let separator = if method == BallotMethod::Approval {
        "="
    } else {
        ">"
    };
    let title = info.election.title.replace(['\n', '\r', '"'], " ");
    let mut text = format!("{{\"title\": \"{title}\"}}\n");
    for (i, candidate) in info.candidates.iter().enumerate() {
        // A bracketed name ends at its first ']'.
        let name = candidate.name.replace([']', '\n', '\r'], " ");
        text.push_str(&format!("=c{}:[{name}]\n", i + 1));
    }
    for (count, ids) in ballots(profile) {
        let tokens: Vec<String> = ids
            .iter()
            .filter_map(|id| positions.get(id).map(|p| format!("c{p}")))
            .collect();
        text.push_str(&format!("{count}:{}\n", tokens.join(separator)));
    }
    text
}

/// The ballots as BLT: `candidates seats`, one `count pref pref … 0` line per ballot, `0`,
/// the candidates' names in ballot order and the title, each quoted.
pub fn blt(info: &ElectionInfo, profile: &BTreeMap<String, u64>) -> String {
    let positions = positions(info);
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "'"));
    let mut text = format!("{} 1\n", info.candidates.len());
    for (count, ids) in ballots(profile) {
        let prefs: Vec<String> = ids
            .iter()
            .filter_map(|id| positions.get(id).map(usize::to_string))
            .collect();
        text.push_str(&format!("{count} {} 0\n", prefs.join(" ")));
    }
    text.push_str("0\n");
    for candidate in &info.candidates {
        text.push_str(&quoted(&candidate.name));
        text.push('\n');
    }
    text.push_str(&quoted(&info.election.title));
    text.push('\n');
    text
}
