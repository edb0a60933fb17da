//! Between stored records and the wire types.

use proto_gen::election::v1::{
    BallotExport, BallotMethod, Candidate, Election, ElectionStatus, Eligibility, ResultsVisibility,
};

use crate::store::{CandidateRecord, ElectionRecord, Status};
pub use kit::time::timestamp;

pub fn millis(timestamp: &prost_types::Timestamp) -> i64 {
    timestamp.seconds * 1000 + i64::from(timestamp.nanos) / 1_000_000
}

pub fn method_name(method: BallotMethod) -> &'static str {
    match method {
        BallotMethod::Approval => "approval",
        BallotMethod::Ranked => "ranked",
        BallotMethod::Stv => "stv",
        BallotMethod::Schulze => "schulze",
        BallotMethod::Borda => "borda",
        BallotMethod::Score => "score",
        _ => "plurality",
    }
}

pub fn method_of(name: &str) -> BallotMethod {
    match name {
        "approval" => BallotMethod::Approval,
        "ranked" => BallotMethod::Ranked,
        "stv" => BallotMethod::Stv,
        "schulze" => BallotMethod::Schulze,
        "borda" => BallotMethod::Borda,
        "score" => BallotMethod::Score,
        _ => BallotMethod::Plurality,
    }
}

pub fn visibility_name(visibility: ResultsVisibility) -> &'static str {
    match visibility {
        ResultsVisibility::Live => "live",
        _ => "after_close",
    }
}

pub fn eligibility_name(eligibility: Eligibility) -> &'static str {
    match eligibility {
        Eligibility::Roll => "roll",
        _ => "all_voters",
    }
}

pub fn status_of(status: Status) -> ElectionStatus {
    match status {
        Status::Draft => ElectionStatus::Draft,
        Status::Open => ElectionStatus::Open,
        Status::Closed => ElectionStatus::Closed,
        Status::Archived => ElectionStatus::Archived,
    }
}

pub fn election(record: &ElectionRecord) -> Election {
    Election {
        election_id: record.id.clone(),
        title: record.title.clone(),
        description: record.description.clone(),
        method: method_of(&record.method) as i32,
        max_choices: record.max_choices as u32,
        opens_at: Some(timestamp(record.opens_at_ms)),
        closes_at: Some(timestamp(record.closes_at_ms)),
        results_visibility: if record.results_visibility == "live" {
            ResultsVisibility::Live
        } else {
            ResultsVisibility::AfterClose
        } as i32,
        eligibility: if record.eligibility == "roll" {
            Eligibility::Roll
        } else {
            Eligibility::AllVoters
        } as i32,
        status: status_of(record.status) as i32,
        version: record.version as u64,
        created_at: Some(timestamp(record.created_at_ms)),
        remind_before_close: record.remind_before_close_ms.map(duration),
        ballot_export: if record.ballot_export == "public" {
            BallotExport::Public as i32
        } else {
            BallotExport::Admins as i32
        },
        questions: record.questions.clone(),
    }
}

pub fn duration(ms: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms / 1000,
        nanos: (ms % 1000) as i32 * 1_000_000,
    }
}

pub fn candidate(record: &CandidateRecord) -> Candidate {
    Candidate {
        candidate_id: record.id.clone(),
        election_id: record.election_id.clone(),
        name: record.name.clone(),
        party: record.party.clone(),
        description: record.description.clone(),
        image_url: record.image_url.clone(),
        ballot_position: record.ballot_position as u32,
        question_id: record.question_id.clone(),
    }
}
