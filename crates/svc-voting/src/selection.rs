//! Checks a ballot against the election's questions; each refusal names the field that is
//! wrong, and a refused ballot writes nothing.

use std::collections::{HashMap, HashSet};

use kit::ServiceError;
use proto_gen::{
    election::v1::{BallotMethod, Question},
    voting::v1::{Answer, CastBallotRequest},
};

use crate::directory::Sheet;

/// Names a field of the answer at an index, as the request's shape calls it.
type FieldOf = Box<dyn Fn(usize, &str) -> String>;

/// The answers of a valid ballot, one per question in the election's order, abstentions
/// included.
pub fn validate(view: &Sheet, request: &CastBallotRequest) -> Result<Vec<Answer>, ServiceError> {
    let questions = &view.election.questions;
    let (answers, field_of): (Vec<Answer>, FieldOf) =
        match (&request.selection, request.answers.is_empty()) {
            (Some(_), false) => {
                return Err(ServiceError::invalid(
                    "selection",
                    "set either selection or answers, not both",
                ))
            }
            (Some(selection), true) => {
                if questions.len() > 1 {
                    return Err(ServiceError::invalid(
                        "answers",
                        format!(
                            "this election has {} questions: answer each in answers",
                            questions.len()
                        ),
                    ));
                }
                let only = Answer {
                    question_id: view.election.election_id.clone(),
                    candidate_ids: selection.candidate_ids.clone(),
                    ..Default::default()
                };
                // The shape from before questions keeps its field names.
                (vec![only], Box::new(|_, name| format!("selection.{name}")))
            }
            (None, false) => (
                request.answers.clone(),
                Box::new(|index, name| format!("answers[{index}].{name}")),
            ),
            (None, true) => return Err(ServiceError::invalid("answers", "required")),
        };
    let mut given: HashMap<&str, (usize, &Answer)> = HashMap::new();
    for (index, answer) in answers.iter().enumerate() {
        if !questions
            .iter()
            .any(|q| q.question_id == answer.question_id)
        {
            return Err(ServiceError::invalid(
                field_of(index, "question_id"),
                format!(
                    "{:?} is not a question of this election",
                    answer.question_id
                ),
            ));
        }
        if given
            .insert(answer.question_id.as_str(), (index, answer))
            .is_some()
        {
            return Err(ServiceError::invalid(
                field_of(index, "question_id"),
                "answers a question a second time",
            ));
        }
    }
    questions
        .iter()
        .map(|question| match given.get(question.question_id.as_str()) {
            Some((index, answer)) => {
                let candidates = view.candidates_of(&question.question_id);
                one(question, &candidates, answer, &|name| {
                    field_of(*index, name)
                })
            }
            None if question.allow_abstain => Ok(abstention(question)),
            None => Err(ServiceError::invalid(
                "answers",
                format!("question {} needs an answer", name(question)),
            )),
        })
        .collect()
}

fn name(question: &Question) -> String {
    if question.title.is_empty() {
        question.question_id.clone()
    } else {
        format!("{:?} ({})", question.title, question.question_id)
    }
}

fn abstention(question: &Question) -> Answer {
    Answer {
        question_id: question.question_id.clone(),
        abstain: true,
        ..Default::default()
    }
}

/// One question's answer against its method.
fn one(
    question: &Question,
    candidates: &[&str],
    answer: &Answer,
    field: &dyn Fn(&str) -> String,
) -> Result<Answer, ServiceError> {
    let choices = &answer.candidate_ids;
    if answer.abstain || choices.is_empty() {
        if !question.allow_abstain {
            let (name, why) = if answer.abstain {
                ("abstain", "this question does not allow abstaining")
            } else {
                ("candidate_ids", "choose at least one candidate")
            };
            return Err(ServiceError::invalid(field(name), why));
        }
        if !choices.is_empty() || !answer.scores.is_empty() {
            return Err(ServiceError::invalid(
                field("abstain"),
                "an abstention chooses no candidate",
            ));
        }
        return Ok(abstention(question));
    }
    let ids = field("candidate_ids");
    let known: HashSet<&str> = candidates.iter().copied().collect();
    if let Some(unknown) = choices.iter().find(|c| !known.contains(c.as_str())) {
        return Err(ServiceError::invalid(
            &ids,
            format!("{unknown} is not a candidate of this question"),
        ));
    }
    let distinct: HashSet<&str> = choices.iter().map(String::as_str).collect();
    if distinct.len() != choices.len() {
        return Err(ServiceError::invalid(
            &ids,
            "a candidate appears more than once",
        ));
    }
    let method = BallotMethod::try_from(question.method).unwrap_or(BallotMethod::Unspecified);
    let max = question.max_choices as usize;
    let too_long = max > 0 && choices.len() > max;
    match method {
        BallotMethod::Plurality if choices.len() != 1 => {
            return Err(ServiceError::invalid(
                &ids,
                "PLURALITY takes exactly one choice",
            ))
        }
        BallotMethod::Approval if too_long => {
            return Err(ServiceError::invalid(
                &ids,
                format!("too many choices: at most {max}"),
            ))
        }
        BallotMethod::Ranked | BallotMethod::Stv | BallotMethod::Schulze | BallotMethod::Borda
            if too_long =>
        {
            return Err(ServiceError::invalid(
                &ids,
                format!("ranking too long: at most {max}"),
            ))
        }
        BallotMethod::Unspecified => {
            return Err(ServiceError::FailedPrecondition(
                "election has no ballot method".into(),
            ))
        }
        // A ranking is the list's order, so it has no gaps by construction.
        _ => {}
    }
    let scores = field("scores");
    if method == BallotMethod::Score {
        if answer.scores.len() != choices.len() {
            return Err(ServiceError::invalid(
                &scores,
                "give one score for each of candidate_ids",
            ));
        }
        if let Some(over) = answer.scores.iter().find(|s| **s > question.max_score) {
            return Err(ServiceError::invalid(
                &scores,
                format!("{over} is above the highest score, {}", question.max_score),
            ));
        }
    } else if !answer.scores.is_empty() {
        return Err(ServiceError::invalid(
            &scores,
            "only SCORE questions take scores",
        ));
    }
    Ok(Answer {
        question_id: question.question_id.clone(),
        candidate_ids: choices.clone(),
        scores: answer.scores.clone(),
        abstain: false,
    })
}

#[cfg(test)]
mod tests;
