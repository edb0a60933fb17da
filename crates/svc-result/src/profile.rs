//! The stored profile's keys: one per distinct (question, weight, answer), each counted with
//! how many ballots gave it. The key is `question|weight|answer`: the weight in millionths,
//! the answer the candidate ids in the voter's order (`a,b`), with their scores for SCORE
//! (`a:5,b:0`), or empty for an abstention. Every ballot has one entry per question.

use counting::{Ranked, Scored, Weight};
use proto_gen::voting::v1::Answer;

/// One profile key, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub question: &'a str,
    pub weight: Weight,
    pub answer: &'a str,
}

impl<'a> Entry<'a> {
    /// The candidate ids of the answer, in the voter's order.
    pub fn candidates(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.choices().map(|(id, _)| id)
    }

    /// Each candidate with its score (0 when the answer carries none).
    pub fn choices(&self) -> impl Iterator<Item = (&'a str, u32)> + 'a {
        self.answer
            .split(',')
            .filter(|choice| !choice.is_empty())
            .map(|choice| match choice.split_once(':') {
                Some((id, score)) => (id, score.parse().unwrap_or(0)),
                None => (choice, 0),
            })
    }

    pub fn abstains(&self) -> bool {
        self.answer.is_empty()
    }
}

pub fn key(question: &str, weight: Weight, answer: &str) -> String {
    format!("{question}|{weight}|{answer}")
}

pub fn parse(key: &str) -> Option<Entry<'_>> {
    let (question, rest) = key.split_once('|')?;
    let (weight, answer) = rest.split_once('|')?;
    Some(Entry {
        question,
        weight: weight.parse().ok()?,
        answer,
    })
}

/// An answer as the profile keeps it.
pub fn answer_text(answer: &Answer) -> String {
    if answer.abstain {
        return String::new();
    }
    if answer.scores.is_empty() {
        return answer.candidate_ids.join(",");
    }
    answer
        .candidate_ids
        .iter()
        .zip(&answer.scores)
        .map(|(id, score)| format!("{id}:{score}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// One question's entries with their ballots.
pub fn of_question<'a>(
    profile: &'a std::collections::BTreeMap<String, u64>,
    question: &'a str,
) -> impl Iterator<Item = (Entry<'a>, u64)> + 'a {
    profile
        .iter()
        .filter_map(|(key, ballots)| Some((parse(key)?, *ballots)))
        .filter(move |(entry, _)| entry.question == question)
}

/// The ranked ballots of a question, for the counting methods (abstentions left out).
pub fn ranked<'a>(entries: impl Iterator<Item = (Entry<'a>, u64)>) -> Vec<Ranked> {
    entries
        .filter(|(entry, _)| !entry.abstains())
        .map(|(entry, ballots)| Ranked {
            ranking: entry.candidates().map(str::to_owned).collect(),
            weight: entry.weight * ballots,
        })
        .collect()
}

/// The score ballots of a question (abstentions left out).
pub fn scored<'a>(entries: impl Iterator<Item = (Entry<'a>, u64)>) -> Vec<Scored> {
    entries
        .filter(|(entry, _)| !entry.abstains())
        .map(|(entry, ballots)| Scored {
            scores: entry.choices().map(|(id, s)| (id.to_owned(), s)).collect(),
            weight: entry.weight * ballots,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back() {
        let scored = Answer {
            question_id: "q".into(),
            candidate_ids: vec!["a".into(), "b".into()],
            scores: vec![5, 0],
            abstain: false,
        };
        let text = answer_text(&scored);
        assert_eq!(text, "a:5,b:0");
        let key = key("q", 2_500_000, &text);
        let entry = parse(&key).expect("parses");
        assert_eq!((entry.question, entry.weight), ("q", 2_500_000));
        assert_eq!(entry.choices().collect::<Vec<_>>(), [("a", 5), ("b", 0)]);
        let abstention = super::key("q", 1, "");
        assert!(parse(&abstention).expect("parses").abstains());
    }
}
