//! The Schulze method (Markus Schulze's "beatpath" Condorcet method), counted from a ranked
//! ballot profile with weights in millionths ([`Weight`]).
//!
//! **Pairwise matrix.** `pairwise[x][y]` (Schulze's d\[X,Y\]) is the total weight of the
//! ballots that rank candidate x above candidate y. A candidate named on a ballot is above
//! every candidate the ballot leaves out; the candidates it leaves out are tied with each
//! other, so such a ballot counts for neither side between them. Names that are not in
//! `candidates`, and a second mention of the same name, are ignored.
//!
//! **Strongest paths.** x defeats y when `pairwise[x][y] > pairwise[y][x]`, and the strength
//! of that defeat is its winning votes, `pairwise[x][y]`. A path is a chain of defeats; its
//! strength is its weakest defeat. `strongest[x][y]` (Schulze's p\[X,Y\]) is the strength of
//! the strongest path from x to y, 0 when there is none (and on the diagonal), computed with
//! the widest-path variant of Floyd–Warshall.
//!
//! **Winners.** x is a Schulze winner when `strongest[x][y] >= strongest[y][x]` for every
//! other y; there is always at least one. x ranks above y in the Schulze order when
//! `strongest[x][y] > strongest[y][x]`, a relation Schulze proves transitive.
//!
//! **Tie-break, deterministic.** When several candidates are Schulze winners, the one listed
//! first in `candidates` (ballot order) is the `winner`. The full `ranking` is built in tiers:
//! the winners in ballot order, then the candidates that no remaining candidate beats, in
//! ballot order, and so on. Every candidate comes after all the candidates that beat it, so
//! the ranking keeps the Schulze order and only orders what it leaves open. (Schulze's paper
//! breaks such ties with an order drawn from random ballots; a fixed order is not neutral
//! between candidates, but a recount gives the same answer.)
//!
//! With no ballot weight at all every candidate ties and there is no `winner`.

use crate::{Ranked, Weight};

/// A Schulze count. Matrices are indexed in the order of `candidates`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The candidates in ballot order; the row and column order of both matrices.
    pub candidates: Vec<String>,
    /// `pairwise[x][y]`: weight of the ballots ranking x above y (d in Schulze's notation).
    pub pairwise: Vec<Vec<Weight>>,
    /// `strongest[x][y]`: strength of the strongest path from x to y (p in Schulze's notation).
    pub strongest: Vec<Vec<Weight>>,
    /// The Schulze winners, in ballot order; more than one when the method ties.
    pub winners: Vec<String>,
    /// The winner after the tie-break (the first of `winners`); `None` without ballots.
    pub winner: Option<String>,
    /// Every candidate in Schulze order, ties broken by ballot order (see the module docs).
    pub ranking: Vec<String>,
}

/// Counts `profile` over `candidates` (distinct ids, in ballot order).
pub fn count(candidates: &[String], profile: &[Ranked]) -> Outcome {
    let pairwise = pairwise(candidates, profile);
    let strongest = strongest_paths(&pairwise);
    let order = order(&strongest);
    let n = candidates.len();
    let winners: Vec<String> = (0..n)
        .filter(|&x| (0..n).all(|y| strongest[x][y] >= strongest[y][x]))
        .map(|x| candidates[x].clone())
        .collect();
    let any_weight = profile.iter().any(|ballot| ballot.weight > 0);
    Outcome {
        candidates: candidates.to_vec(),
        winner: winners.first().filter(|_| any_weight).cloned(),
        ranking: order.iter().map(|&x| candidates[x].clone()).collect(),
        winners,
        pairwise,
        strongest,
    }
}

/// d: `d[x][y]` is the weight of the ballots ranking x above y.
fn pairwise(candidates: &[String], profile: &[Ranked]) -> Vec<Vec<Weight>> {
    let n = candidates.len();
    let mut d = vec![vec![0; n]; n];
    for ballot in profile {
        // Position of each candidate on this ballot; None for the ones it leaves out.
        let mut position: Vec<Option<usize>> = vec![None; n];
        let named = ballot
            .ranking
            .iter()
            .filter_map(|name| candidates.iter().position(|c| c == name));
        for (place, x) in named.enumerate() {
            position[x].get_or_insert(place);
        }
        for x in 0..n {
            for y in 0..n {
                let above = match (position[x], position[y]) {
                    (Some(px), Some(py)) => px < py,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if above {
                    d[x][y] += ballot.weight;
                }
            }
        }
    }
    d
}

/// p: widest paths over the defeats of `d`, each defeat as strong as its winning votes.
fn strongest_paths(d: &[Vec<Weight>]) -> Vec<Vec<Weight>> {
    let n = d.len();
    let mut p = vec![vec![0; n]; n];
    for x in 0..n {
        for y in 0..n {
            if x != y && d[x][y] > d[y][x] {
                p[x][y] = d[x][y];
            }
        }
    }
    for via in 0..n {
        for x in (0..n).filter(|&x| x != via) {
            for y in (0..n).filter(|&y| y != via && y != x) {
                p[x][y] = p[x][y].max(p[x][via].min(p[via][y]));
            }
        }
    }
    p
}

/// Candidate indices in Schulze order, in tiers: first the candidates no candidate beats (the
/// winners), then the ones no remaining candidate beats, and so on; ballot order within a tier.
/// Every candidate beaten by another comes after it, so this completes the Schulze order.
fn order(p: &[Vec<Weight>]) -> Vec<usize> {
    let mut remaining: Vec<usize> = (0..p.len()).collect();
    let mut order = Vec::with_capacity(p.len());
    while !remaining.is_empty() {
        let (tier, rest): (Vec<usize>, Vec<usize>) = remaining
            .iter()
            .partition(|&&x| remaining.iter().all(|&y| p[y][x] <= p[x][y]));
        // A tier is never empty (the relation is a strict partial order); if it somehow were,
        // taking everyone left still ends the loop.
        if tier.is_empty() {
            order.append(&mut remaining);
        }
        order.extend(tier);
        remaining = rest;
    }
    order
}

#[cfg(test)]
pub(crate) mod tests;
