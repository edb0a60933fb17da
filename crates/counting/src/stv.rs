//! Single transferable vote for several seats, counted by the rules of the Scottish Local
//! Government Elections Order 2007 (SSI 2007/42), schedule 1, rules 45 to 52 ("Scottish
//! STV": Droop quota, weighted inclusive Gregory surplus transfers, five-decimal truncation).
//!
//! # Rules
//!
//! - **Valid votes (rule 45).** A ranking counts if it names at least one candidate standing.
//!   Names that are not standing are skipped wherever they appear, and a candidate named twice
//!   counts at the first mention only. A ranking naming nobody standing is not a valid vote.
//! - **Quota (rule 46).** `floor(V / (seats + 1)) + 1` whole votes, where `V` is the total
//!   weight of the valid votes in votes. With every weight a whole number of votes this is the
//!   Order's quota exactly; with fractional weights the same formula runs on the weighted
//!   total (the Order's "ignoring any decimal places").
//! - **Election (rule 47).** At the end of every stage each continuing candidate with at least
//!   the quota is deemed elected, most votes first (ties: see below).
//! - **Surplus transfer (rules 48, 49).** While seats remain, an elected candidate with more
//!   than the quota has a surplus: the largest is transferred first, one per stage, and every
//!   surplus is transferred before anyone is excluded. All the papers the candidate holds move
//!   (inclusive Gregory) to their next available preference for a continuing candidate, each at
//!   a new transfer value `surplus × (value of the paper when received) / (candidate's votes)`
//!   truncated to five decimal places; a first-preference paper's value is 1. Papers with no
//!   next available preference are non-transferable ([`Round::exhausted`]); the part of the
//!   surplus that truncation leaves unassigned is [`Round::rounding_loss`]. The candidate then
//!   keeps exactly the quota.
//! - **Exclusion (rules 50, 51).** With no surplus to transfer, the continuing candidate with
//!   the fewest votes is excluded, one per stage, and each of their papers moves at the
//!   transfer value it had when received (1 for a first preference).
//! - **Last vacancies (rule 52).** When the continuing candidates are no more than the seats
//!   left, they are all deemed elected (most votes first) and no further transfer is made.
//!
//! # Weights and exact arithmetic
//!
//! A profile entry of weight `w` stands for `w / ONE` voters: the transfer value of its
//! papers is per voter and is truncated per voter, so a ranking cast by three voters (weight
//! `3 * ONE`) counts exactly like three separate papers, as the Order counts them. A paper
//! group's value is `weight × transfer value`: millionths of a vote times steps of 10⁻⁵, so
//! every [`Value`] is an exact integer number of 10⁻¹¹ of a vote ([`VOTE`] per vote) and no
//! step ever rounds except the Order's own truncation of transfer values. When every weight is
//! a whole number of votes, every value is a whole number of 10⁻⁵ of a vote, as in the Order;
//! [`display`] shows values that way, [`display_exact`] shows all eleven places.
//!
//! # Ties
//!
//! Rules 49 and 51 break ties by the votes at the most recent earlier stage at which the tied
//! candidates' votes differed; this applies it repeatedly (those still tied at that stage are
//! compared at the stages before it, i.e. a lexicographic comparison from the latest stage
//! back). Where the Order then says "by lot", this count is deterministic instead:
//!
//! - equal surpluses: the candidate listed earlier on the ballot transfers first;
//! - several candidates deemed elected at one stage: listed in order of votes, ties as for
//!   surpluses (earlier on the ballot first);
//! - exclusion: the candidate listed later on the ballot is excluded.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use crate::{Ranked, ONE};

#[cfg(test)]
mod tests;

/// An exact number of votes, in units of 10⁻¹¹ of a vote (millionths of weight times steps of
/// 10⁻⁵ of transfer value).
pub type Value = u128;

/// One vote as a [`Value`].
pub const VOTE: Value = 100_000_000_000;

/// A transfer value of 1.00000, in steps of 10⁻⁵.
const TV_ONE: u128 = 100_000;

/// The [`Value`] of one step of 10⁻⁵ of a vote.
const STEP: Value = VOTE / TV_ONE;

/// What a stage did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Stage 1: first preferences counted.
    FirstPreferences,
    /// The surplus of an elected candidate moved on. `transfer_value` is the value a paper
    /// of value 1 carries on (as votes per voter); papers received earlier at a lower value
    /// carry proportionally less, each truncated to five decimal places.
    SurplusTransferred {
        from: String,
        surplus: Value,
        transfer_value: Value,
    },
    /// A candidate excluded and their papers moved on at their current values.
    Excluded(String),
}

/// One stage of the count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Round {
    pub action: Action,
    /// Votes at the end of the stage for every candidate still continuing or elected, in
    /// ballot order.
    pub tallies: Vec<(String, Value)>,
    /// Value received at this stage by each candidate who was continuing during the transfer
    /// (zeros included); empty at stage 1.
    pub transfers: BTreeMap<String, Value>,
    /// Value of papers that became non-transferable at this stage.
    pub exhausted: Value,
    /// Part of a surplus carried by no paper because transfer values are truncated.
    pub rounding_loss: Value,
    /// Candidates deemed elected at the end of this stage, in order of election.
    pub elected: Vec<String>,
    pub quota: Value,
}

/// A complete count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub rounds: Vec<Round>,
    /// In order of election.
    pub elected: Vec<String>,
    pub quota: Value,
    /// Total value of the valid votes.
    pub valid: Value,
}

/// Renders a value with five decimal places, truncated (as the Order keeps votes).
pub fn display(value: Value) -> String {
    format!("{}.{:05}", value / VOTE, (value % VOTE) / STEP)
}

/// Renders a value with all eleven decimal places it is kept to.
pub fn display_exact(value: Value) -> String {
    format!("{}.{:011}", value / VOTE, value % VOTE)
}

/// Counts `profile` for `seats` seats over `candidates` (in ballot order; names distinct).
/// Rankings may name candidates who are not standing and need not rank everyone. Every
/// stage is reported in [`Outcome::rounds`] as it was counted, stage 1 first.
pub fn count(candidates: &[String], seats: usize, profile: &[Ranked]) -> Outcome {
    let mut counter = Count::new(candidates, seats, profile);
    let mut done = counter.close_stage(Action::FirstPreferences, Moved::default());
    while !done {
        done = match counter.largest_surplus() {
            Some(c) => counter.transfer_surplus(c),
            None => counter.exclude_lowest(),
        };
    }
    Outcome {
        elected: counter
            .elected
            .iter()
            .map(|&c| candidates[c].clone())
            .collect(),
        rounds: counter.rounds,
        quota: counter.quota,
        valid: counter.valid,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Continuing,
    Elected,
    Excluded,
}

/// The voters who cast one ranking, all holding papers of the same value.
struct Papers {
    /// Candidate indices, deduplicated, standing candidates only.
    ranking: Vec<usize>,
    /// Index into `ranking` of the holder; `ranking.len()` once non-transferable.
    at: usize,
    weight: u128,
    /// Transfer value per voter, in steps of 10⁻⁵.
    tv: u128,
}

impl Papers {
    fn value(&self) -> Value {
        self.weight * self.tv
    }

    fn holder(&self) -> Option<usize> {
        self.ranking.get(self.at).copied()
    }
}

/// What a transfer moved: value by receiving candidate, and value that went nowhere.
#[derive(Default)]
struct Moved {
    received: Vec<Value>,
    exhausted: Value,
    rounding_loss: Value,
}

struct Count<'a> {
    names: &'a [String],
    seats: usize,
    quota: Value,
    valid: Value,
    state: Vec<State>,
    votes: Vec<Value>,
    papers: Vec<Papers>,
    /// Votes of every candidate at the end of each stage, for tie-breaks.
    history: Vec<Vec<Value>>,
    elected: Vec<usize>,
    rounds: Vec<Round>,
}

impl<'a> Count<'a> {
    fn new(names: &'a [String], seats: usize, profile: &[Ranked]) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            index.entry(name.as_str()).or_insert(i);
        }
        let mut papers = Vec::new();
        for ballot in profile {
            let mut ranking: Vec<usize> = Vec::new();
            for c in ballot.ranking.iter().filter_map(|n| index.get(n.as_str())) {
                if !ranking.contains(c) {
                    ranking.push(*c);
                }
            }
            if !ranking.is_empty() && ballot.weight > 0 {
                let weight = u128::from(ballot.weight);
                papers.push(Papers {
                    ranking,
                    at: 0,
                    weight,
                    tv: TV_ONE,
                });
            }
        }
        let total: u128 = papers.iter().map(|p| p.weight).sum();
        let whole_votes = total / ((seats as u128 + 1) * u128::from(ONE));
        let mut votes = vec![0; names.len()];
        for p in &papers {
            votes[p.ranking[0]] += p.value();
        }
        Count {
            names,
            seats,
            quota: (whole_votes + 1) * VOTE,
            valid: total * TV_ONE,
            state: vec![State::Continuing; names.len()],
            votes,
            papers,
            history: Vec::new(),
            elected: Vec::new(),
            rounds: Vec::new(),
        }
    }

    fn continuing(&self) -> Vec<usize> {
        (0..self.names.len())
            .filter(|&c| self.state[c] == State::Continuing)
            .collect()
    }

    /// Compares two candidates' votes stage by stage from the latest back to the first
    /// (rules 49(2) and 51(2)(a)); `Equal` only if they were equal at every stage.
    fn by_history(&self, a: usize, b: usize) -> Ordering {
        self.history
            .iter()
            .rev()
            .map(|stage| stage[a].cmp(&stage[b]))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    /// Order of precedence for election and surplus transfer: more votes (now, then at the
    /// latest stage where they differed) first, then earlier on the ballot.
    fn precedence(&self, a: usize, b: usize) -> Ordering {
        self.by_history(b, a).then(a.cmp(&b))
    }

    /// Records the stage's votes, deems candidates elected (rules 47 and 52) and reports the
    /// round. Returns whether the count is complete.
    fn close_stage(&mut self, action: Action, moved: Moved) -> bool {
        self.history.push(self.votes.clone());
        // At stage 1 nothing moved, so `received` is empty and so are the transfers.
        let transfers = moved
            .received
            .iter()
            .enumerate()
            .filter(|&(c, _)| self.state[c] == State::Continuing)
            .map(|(c, &value)| (self.names[c].clone(), value))
            .collect();
        let mut newly = Vec::new();
        let mut reached: Vec<usize> = self
            .continuing()
            .into_iter()
            .filter(|&c| self.votes[c] >= self.quota)
            .collect();
        reached.sort_by(|&a, &b| self.precedence(a, b));
        for c in reached.into_iter().take(self.seats - self.elected.len()) {
            self.elect(c, &mut newly);
        }
        let left = self.seats - self.elected.len();
        let mut rest = self.continuing();
        let done = left == 0 || rest.len() <= left;
        if done {
            rest.sort_by(|&a, &b| self.precedence(a, b));
            for c in rest.into_iter().take(left) {
                self.elect(c, &mut newly);
            }
        }
        let tallies = (0..self.names.len())
            .filter(|&c| self.state[c] != State::Excluded)
            .map(|c| (self.names[c].clone(), self.votes[c]))
            .collect();
        self.rounds.push(Round {
            action,
            tallies,
            transfers,
            exhausted: moved.exhausted,
            rounding_loss: moved.rounding_loss,
            elected: newly.iter().map(|&c| self.names[c].clone()).collect(),
            quota: self.quota,
        });
        done
    }

    fn elect(&mut self, c: usize, newly: &mut Vec<usize>) {
        self.state[c] = State::Elected;
        self.elected.push(c);
        newly.push(c);
    }

    /// The elected candidate whose surplus goes next (rule 49), if any has one.
    fn largest_surplus(&self) -> Option<usize> {
        self.elected
            .iter()
            .copied()
            .filter(|&c| self.votes[c] > self.quota)
            .min_by(|&a, &b| self.precedence(a, b))
    }

    /// Transfers the surplus of `from` (rule 48) as one stage.
    fn transfer_surplus(&mut self, from: usize) -> bool {
        let total = self.votes[from];
        let surplus = total - self.quota;
        let mut moved = self.move_papers(from, |tv| surplus * tv / total);
        self.votes[from] = self.quota;
        let carried: Value = moved.received.iter().sum::<Value>() + moved.exhausted;
        moved.rounding_loss = surplus - carried;
        let action = Action::SurplusTransferred {
            from: self.names[from].clone(),
            surplus,
            transfer_value: surplus * TV_ONE / total * STEP,
        };
        self.close_stage(action, moved)
    }

    /// Excludes the continuing candidate with the fewest votes (rules 50 and 51) as one stage.
    fn exclude_lowest(&mut self) -> bool {
        // A deterministic stand-in for the lot: among exact ties, the later-listed goes.
        let lowest = self
            .continuing()
            .into_iter()
            .min_by(|&a, &b| self.by_history(a, b).then(b.cmp(&a)));
        let Some(lowest) = lowest else {
            return true;
        };
        self.state[lowest] = State::Excluded;
        let moved = self.move_papers(lowest, |tv| tv);
        self.votes[lowest] = 0;
        self.close_stage(Action::Excluded(self.names[lowest].clone()), moved)
    }

    /// Moves every paper `from` holds to its next available preference for a continuing
    /// candidate, at the transfer value `new_tv` gives (from its current one).
    fn move_papers(&mut self, from: usize, new_tv: impl Fn(u128) -> u128) -> Moved {
        let mut moved = Moved {
            received: vec![0; self.names.len()],
            ..Moved::default()
        };
        for p in self.papers.iter_mut().filter(|p| p.holder() == Some(from)) {
            p.tv = new_tv(p.tv);
            p.at += 1;
            while p
                .holder()
                .is_some_and(|c| self.state[c] != State::Continuing)
            {
                p.at += 1;
            }
            match p.holder() {
                Some(to) => moved.received[to] += p.value(),
                None => moved.exhausted += p.value(),
            }
        }
        for (votes, received) in self.votes.iter_mut().zip(&moved.received) {
            *votes += received;
        }
        moved
    }
}
