//! Counting methods as pure functions over a ballot profile: each distinct ballot with the
//! total weight of the voters who cast it. No I/O, no clock, no randomness: the same profile
//! always gives the same outcome, rounds included, so a recount can check a count.
//!
//! Weights are exact: a voter's weight has up to six decimal places and is carried as an
//! integer number of millionths ([`Weight`]), so weighted counts never round.
#![forbid(unsafe_code)]

/// A weight in millionths of a vote: 1 voter of weight 1 is [`ONE`].
pub type Weight = u64;

/// The weight of one ordinary voter.
pub const ONE: Weight = 1_000_000;

/// A ranked ballot (candidate ids, most preferred first; candidates left out are ranked below
/// every candidate named) and the total weight of the ballots cast with this ranking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ranked {
    pub ranking: Vec<String>,
    pub weight: Weight,
}

/// A score ballot (each candidate's score, 0..=max; a candidate left out scores 0) and the
/// total weight of the ballots cast with these scores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scored {
    pub scores: Vec<(String, u32)>,
    pub weight: Weight,
}

pub mod borda;
pub mod irv;
pub mod schulze;
pub mod score;
pub mod stv;
#[cfg(test)]
mod testing;
pub mod weight;
