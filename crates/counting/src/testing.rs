//! What the methods' tests share: profiles written as text.

use crate::{Ranked, ONE};

/// Candidate names from a space-separated list.
pub fn names(list: &str) -> Vec<String> {
    list.split_whitespace().map(str::to_owned).collect()
}

/// A profile from (voters, space-separated ranking) rows, each voter of weight one.
pub fn profile(rows: &[(u64, &str)]) -> Vec<Ranked> {
    rows.iter()
        .map(|(voters, ranking)| Ranked {
            ranking: names(ranking),
            weight: voters * ONE,
        })
        .collect()
}
