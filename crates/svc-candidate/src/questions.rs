//! The questions of a ballot. They are checked on every edit and stored with their election
//! (an encoded `QuestionList`); the first one's id is the election's, and its method and
//! max_choices are mirrored in the election's own fields, so a client from before questions
//! sees a one-question election and can still create and edit one.

use std::collections::HashSet;

use kit::ServiceError;
use prost::Message;
use proto_gen::election::v1::{BallotMethod, Question, QuestionList};

use crate::validate::text;

pub const MAX_QUESTIONS: usize = 20;
pub const MAX_SEATS: u32 = 100;
pub const MAX_SCORE: u32 = 100;

/// The one question of an election from before questions, or of a request in that shape.
pub fn only(election_id: &str, method: i32, max_choices: u32) -> Question {
    Question {
        question_id: election_id.to_owned(),
        method,
        max_choices,
        seats: 1,
        ..Default::default()
    }
}

/// The questions as stored: decoded, or the only question for an election stored before
/// questions existed.
pub fn stored(
    election_id: &str,
    method: i32,
    max_choices: u32,
    blob: Option<&[u8]>,
) -> Vec<Question> {
    blob.and_then(|bytes| QuestionList::decode(bytes).ok())
        .map(|list| list.questions)
        .filter(|questions| !questions.is_empty())
        .unwrap_or_else(|| vec![only(election_id, method, max_choices)])
}

pub fn encode(questions: &[Question]) -> Vec<u8> {
    QuestionList {
        questions: questions.to_vec(),
    }
    .encode_to_vec()
}

/// The first question as a request in the shape from before questions set it, checked, its
/// errors naming the election's own fields (`method`, `max_choices`).
pub fn legacy(question: Question) -> Result<Question, ServiceError> {
    one(question, &|name| name.to_owned())
}

/// Checks the questions a client sent and gives them their ids: the first gets the
/// election's, a kept one must be among `existing`, a new one gets a fresh UUID.
pub fn checked(
    election_id: &str,
    sent: Vec<Question>,
    existing: &[Question],
) -> Result<Vec<Question>, ServiceError> {
    if sent.is_empty() || sent.len() > MAX_QUESTIONS {
        return Err(ServiceError::invalid(
            "questions",
            format!("must hold 1 to {MAX_QUESTIONS} questions"),
        ));
    }
    let known: HashSet<&str> = existing.iter().map(|q| q.question_id.as_str()).collect();
    let mut seen = HashSet::new();
    sent.into_iter()
        .enumerate()
        .map(|(index, question)| {
            let field = |name: &str| format!("questions[{index}].{name}");
            let id = question.question_id.trim().to_owned();
            let id = if index == 0 {
                if !id.is_empty() && id != election_id {
                    return Err(ServiceError::invalid(
                        field("question_id"),
                        "the first question's id is the election's; leave it empty",
                    ));
                }
                election_id.to_owned()
            } else if id.is_empty() {
                uuid::Uuid::new_v4().to_string()
            } else if !known.contains(id.as_str()) || id == election_id {
                return Err(ServiceError::invalid(
                    field("question_id"),
                    "not a question of this election; leave it empty for a new one",
                ));
            } else {
                id
            };
            if !seen.insert(id.clone()) {
                return Err(ServiceError::invalid(
                    field("question_id"),
                    "appears more than once",
                ));
            }
            one(
                Question {
                    question_id: id,
                    ..question
                },
                &field,
            )
        })
        .collect()
}

/// One question's rules; `field` names a field of it in errors.
fn one(question: Question, field: &dyn Fn(&str) -> String) -> Result<Question, ServiceError> {
    let title = text(&field("title"), &question.title, 0, 200)?;
    let description = text(&field("description"), &question.description, 0, 2000)?;
    let method = match BallotMethod::try_from(question.method) {
        Ok(BallotMethod::Unspecified) | Err(_) => {
            return Err(ServiceError::invalid(
                field("method"),
                "must be PLURALITY, APPROVAL, RANKED, STV, SCHULZE, BORDA or SCORE",
            ))
        }
        Ok(method) => method,
    };
    let max_choices = match method {
        BallotMethod::Plurality if question.max_choices > 1 => {
            return Err(ServiceError::invalid(
                field("max_choices"),
                "must be 0 or 1 for PLURALITY",
            ))
        }
        BallotMethod::Plurality => 1,
        BallotMethod::Approval if question.max_choices == 0 => {
            return Err(ServiceError::invalid(
                field("max_choices"),
                "must be at least 1 for APPROVAL",
            ))
        }
        BallotMethod::Score => 0,
        _ => question.max_choices,
    };
    let seats = match method {
        BallotMethod::Stv if !(1..=MAX_SEATS).contains(&question.seats) => {
            return Err(ServiceError::invalid(
                field("seats"),
                format!("must be 1 to {MAX_SEATS} for STV"),
            ))
        }
        BallotMethod::Stv => question.seats,
        _ if question.seats > 1 => {
            return Err(ServiceError::invalid(
                field("seats"),
                "only STV fills several seats; must be 0 or 1",
            ))
        }
        _ => 1,
    };
    let max_score = match method {
        BallotMethod::Score if !(1..=MAX_SCORE).contains(&question.max_score) => {
            return Err(ServiceError::invalid(
                field("max_score"),
                format!("must be 1 to {MAX_SCORE} for SCORE"),
            ))
        }
        BallotMethod::Score => question.max_score,
        _ if question.max_score != 0 => {
            return Err(ServiceError::invalid(
                field("max_score"),
                "only SCORE has scores; must be 0",
            ))
        }
        _ => 0,
    };
    Ok(Question {
        question_id: question.question_id,
        title,
        description,
        method: method as i32,
        max_choices,
        seats,
        allow_abstain: question.allow_abstain,
        max_score,
    })
}

/// Why a question cannot open with `candidates` candidates, if it cannot.
pub fn not_ready(question: &Question, candidates: usize) -> Option<String> {
    let name = if question.title.is_empty() {
        question.question_id.clone()
    } else {
        format!("{:?}", question.title)
    };
    if candidates < 2 {
        return Some(format!(
            "question {name} has {candidates} candidate(s); at least 2 are needed to open"
        ));
    }
    if question.method == BallotMethod::Stv as i32 && candidates <= question.seats as usize {
        return Some(format!(
            "question {name} fills {} seats with {candidates} candidates; STV needs more candidates than seats",
            question.seats
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(method: BallotMethod) -> Question {
        Question {
            method: method as i32,
            ..Default::default()
        }
    }

    #[test]
    fn the_first_question_takes_the_elections_id_and_new_ones_get_their_own() {
        let sent = vec![
            question(BallotMethod::Plurality),
            Question {
                seats: 3,
                ..question(BallotMethod::Stv)
            },
        ];
        let first = checked("e", sent, &[]).expect("valid");
        assert_eq!(first[0].question_id, "e");
        assert_eq!(first[0].max_choices, 1);
        assert!(uuid::Uuid::parse_str(&first[1].question_id).is_ok());
        assert_eq!(first[1].seats, 3);
        assert_eq!(checked("e", first.clone(), &first).expect("kept"), first);
    }

    #[test]
    fn each_refusal_names_its_field() {
        let refusal = |sent: Vec<Question>| match checked("e", sent, &[]) {
            Err(ServiceError::InvalidArgument { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(refusal(vec![]), "questions");
        assert_eq!(
            refusal(vec![question(BallotMethod::Unspecified)]),
            "questions[0].method"
        );
        let stv = |seats| Question {
            seats,
            ..question(BallotMethod::Stv)
        };
        assert_eq!(
            refusal(vec![question(BallotMethod::Plurality), stv(0)]),
            "questions[1].seats"
        );
        assert_eq!(
            refusal(vec![Question {
                seats: 2,
                ..question(BallotMethod::Ranked)
            }]),
            "questions[0].seats"
        );
        assert_eq!(
            refusal(vec![question(BallotMethod::Score)]),
            "questions[0].max_score"
        );
        assert_eq!(
            refusal(vec![
                question(BallotMethod::Plurality),
                Question {
                    question_id: "nope".into(),
                    ..question(BallotMethod::Plurality)
                }
            ]),
            "questions[1].question_id"
        );
    }
}
