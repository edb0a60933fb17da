//! A ballot's content as it is sealed at the cast, opened by the mix and kept in `ballots`:
//! every question's answer and the voter's weight, and nothing about the voter.
//!
//! As text it is `v2:` and the base64 of a `BallotCast` holding only `answers` and
//! `weight_millionths`. A ballot sealed before questions existed is the first question's
//! candidate ids, comma-separated, with a weight of 1.

use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine};
use prost::Message;
use proto_gen::{
    events::v1::BallotCast,
    voting::v1::{Answer, Selection},
};

const PREFIX: &str = "v2:";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ballot {
    /// One per question, in the election's order; an abstention has `abstain` set.
    pub answers: Vec<Answer>,
    /// Millionths of a vote.
    pub weight: u64,
}

impl Ballot {
    pub fn to_text(&self) -> String {
        let content = BallotCast {
            answers: self.answers.clone(),
            weight_millionths: self.weight,
            ..Default::default()
        };
        format!(
            "{PREFIX}{}",
            STANDARD_NO_PAD.encode(content.encode_to_vec())
        )
    }

    /// The ballot in `text`; `election_id` names the first question of a ballot sealed
    /// before questions existed.
    pub fn from_text(election_id: &str, text: &str) -> Option<Self> {
        let Some(encoded) = text.strip_prefix(PREFIX) else {
            let candidate_ids = if text.is_empty() {
                Vec::new()
            } else {
                text.split(',').map(str::to_owned).collect()
            };
            return Some(Self {
                answers: vec![Answer {
                    question_id: election_id.to_owned(),
                    candidate_ids,
                    ..Default::default()
                }],
                weight: counting::ONE,
            });
        };
        let bytes = STANDARD_NO_PAD.decode(encoded).ok()?;
        let content = BallotCast::decode(bytes.as_slice()).ok()?;
        Some(Self {
            answers: content.answers,
            weight: content.weight_millionths,
        })
    }

    /// The first question's answer in the shape from before questions, for consumers that
    /// read only `BallotCast.selection`.
    pub fn first_selection(&self) -> Selection {
        Selection {
            candidate_ids: self
                .answers
                .first()
                .map(|a| a.candidate_ids.clone())
                .unwrap_or_default(),
        }
    }
}

/// The longest text a ballot of an election can take: every question answered with every
/// one of its candidates at the highest score, at the heaviest weight. Sealed ballots are
/// padded to it, so a ciphertext's size tells nothing about what its voter chose.
pub fn longest_text(questions: &[(String, Vec<String>, u32)]) -> usize {
    let answers = questions
        .iter()
        .map(|(question_id, candidates, max_score)| Answer {
            question_id: question_id.clone(),
            candidate_ids: candidates.clone(),
            scores: if *max_score > 0 {
                vec![*max_score; candidates.len()]
            } else {
                Vec::new()
            },
            // Never set beside candidates, but it costs its bytes on an abstention.
            abstain: true,
        })
        .collect();
    Ballot {
        answers,
        weight: counting::weight::MAX,
    }
    .to_text()
    .len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ballots_read_back_as_written_and_old_ones_as_one_question() {
        let ballot = Ballot {
            answers: vec![
                Answer {
                    question_id: "e".into(),
                    candidate_ids: vec!["a".into(), "b".into()],
                    ..Default::default()
                },
                Answer {
                    question_id: "q2".into(),
                    abstain: true,
                    ..Default::default()
                },
            ],
            weight: 2_500_000,
        };
        assert_eq!(
            Ballot::from_text("e", &ballot.to_text()),
            Some(ballot.clone())
        );
        let old = Ballot::from_text("e", "a,b").expect("old shape");
        assert_eq!(old.answers[0].candidate_ids, ["a", "b"]);
        assert_eq!(
            (old.answers[0].question_id.as_str(), old.weight),
            ("e", counting::ONE)
        );
        let longest = longest_text(&[
            ("e".into(), vec!["a".into(), "b".into()], 10),
            ("q2".into(), Vec::new(), 0),
        ]);
        assert!(longest >= ballot.to_text().len());
    }
}
