//! An independent reference count of the same rules (no PyPI package implements them:
//! `pyrankvote` uses an unrounded float Droop quota and float transfers), written in a
//! deliberately different style from the module: every profile entry becomes single-voter
//! papers, each paper's value is an exact fraction truncated where rule 48(3) truncates,
//! candidates are handled by name, every tally is recounted from the papers at each stage,
//! and ties are broken by pairwise comparison. 2,000 seeded random profiles are counted both
//! ways and must agree stage by stage.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::super::*;
use crate::Ranked;

/// A non-negative fraction in lowest terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Frac {
    num: u128,
    den: u128,
}

fn gcd(a: u128, b: u128) -> u128 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Frac {
    fn new(num: u128, den: u128) -> Frac {
        let g = gcd(num, den).max(1);
        Frac {
            num: num / g,
            den: den / g,
        }
    }

    fn whole(n: u128) -> Frac {
        Frac::new(n, 1)
    }

    fn plus(self, o: Frac) -> Frac {
        Frac::new(self.num * o.den + o.num * self.den, self.den * o.den)
    }

    fn minus(self, o: Frac) -> Frac {
        Frac::new(self.num * o.den - o.num * self.den, self.den * o.den)
    }

    fn times(self, o: Frac) -> Frac {
        Frac::new(self.num * o.num, self.den * o.den)
    }

    fn over(self, o: Frac) -> Frac {
        Frac::new(self.num * o.den, self.den * o.num)
    }

    /// Five decimal places, any remainder ignored (rule 48(3)).
    fn truncated(self) -> Frac {
        Frac::new(self.num * 100_000 / self.den, 100_000)
    }
}

impl Ord for Frac {
    fn cmp(&self, o: &Frac) -> Ordering {
        (self.num * o.den).cmp(&(o.num * self.den))
    }
}

impl PartialOrd for Frac {
    fn partial_cmp(&self, o: &Frac) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// One voter's paper: the preferences still ahead (the first is the holder) and its value.
struct Paper {
    ahead: Vec<String>,
    value: Frac,
}

struct Stage {
    action: String,
    tallies: Vec<(String, Frac)>,
    elected: Vec<String>,
}

struct Reference {
    candidates: Vec<String>,
    papers: Vec<Paper>,
    hopeful: Vec<String>,
    won: Vec<String>,
    /// Elected candidates whose surplus has gone: they keep the quota.
    settled: BTreeMap<String, Frac>,
    history: Vec<BTreeMap<String, Frac>>,
    stages: Vec<Stage>,
}

impl Reference {
    fn new(candidates: &[String], profile: &[Ranked]) -> Reference {
        let mut papers = Vec::new();
        for entry in profile {
            assert_eq!(entry.weight % ONE, 0, "the reference counts whole voters");
            let mut ahead: Vec<String> = Vec::new();
            for name in &entry.ranking {
                if candidates.contains(name) && !ahead.contains(name) {
                    ahead.push(name.clone());
                }
            }
            for _ in 0..entry.weight / ONE {
                if !ahead.is_empty() {
                    papers.push(Paper {
                        ahead: ahead.clone(),
                        value: Frac::whole(1),
                    });
                }
            }
        }
        Reference {
            candidates: candidates.to_vec(),
            papers,
            hopeful: candidates.to_vec(),
            won: Vec::new(),
            settled: BTreeMap::new(),
            history: Vec::new(),
            stages: Vec::new(),
        }
    }

    fn tally(&self) -> BTreeMap<String, Frac> {
        let mut votes: BTreeMap<String, Frac> = self
            .candidates
            .iter()
            .map(|c| (c.clone(), Frac::whole(0)))
            .collect();
        for p in &self.papers {
            if let Some(holder) = p.ahead.first() {
                let v = votes[holder].plus(p.value);
                votes.insert(holder.clone(), v);
            }
        }
        for (c, kept) in &self.settled {
            votes.insert(c.clone(), *kept);
        }
        votes
    }

    fn position(&self, c: &str) -> usize {
        self.candidates
            .iter()
            .position(|x| x == c)
            .expect("a candidate")
    }

    /// True if `a` precedes `b`: more votes at the latest stage where they differ, else
    /// earlier on the ballot.
    fn ahead_of(&self, a: &str, b: &str) -> bool {
        for stage in self.history.iter().rev() {
            if stage[a] != stage[b] {
                return stage[a] > stage[b];
            }
        }
        self.position(a) < self.position(b)
    }

    fn sort_by_precedence(&self, list: &mut [String]) {
        list.sort_by(|a, b| match (a == b, self.ahead_of(a, b)) {
            (true, _) => Ordering::Equal,
            (false, true) => Ordering::Less,
            (false, false) => Ordering::Greater,
        });
    }

    /// Moves every paper held by `from` on, after `revalue` sets its new value.
    fn pass_on(&mut self, from: &str, revalue: impl Fn(Frac) -> Frac) {
        for p in &mut self.papers {
            if p.ahead.first().map(String::as_str) == Some(from) {
                p.value = revalue(p.value);
                p.ahead.remove(0);
                while p.ahead.first().is_some_and(|c| !self.hopeful.contains(c)) {
                    p.ahead.remove(0);
                }
            }
        }
    }

    /// Records a stage and elects; true when the count is over.
    fn stage(&mut self, action: String, seats: usize, quota: Frac) -> bool {
        let votes = self.tally();
        self.history.push(votes.clone());
        let listed = self
            .candidates
            .iter()
            .filter(|c| self.hopeful.contains(c) || self.won.contains(c));
        let tallies = listed.map(|c| (c.clone(), votes[c])).collect();
        let mut elected: Vec<String> = self
            .hopeful
            .iter()
            .filter(|c| votes[*c] >= quota)
            .cloned()
            .collect();
        self.sort_by_precedence(&mut elected);
        elected.truncate(seats - self.won.len());
        self.hopeful.retain(|c| !elected.contains(c));
        self.won.extend(elected.iter().cloned());
        let left = seats - self.won.len();
        let over = left == 0 || self.hopeful.len() <= left;
        if over {
            let mut rest = std::mem::take(&mut self.hopeful);
            self.sort_by_precedence(&mut rest);
            rest.truncate(left);
            self.won.extend(rest.iter().cloned());
            elected.extend(rest);
        }
        self.stages.push(Stage {
            action,
            tallies,
            elected,
        });
        over
    }

    fn run(mut self, seats: usize) -> (Vec<String>, Vec<Stage>) {
        let quota = Frac::whole(self.papers.len() as u128 / (seats as u128 + 1) + 1);
        let mut over = self.stage("first".to_owned(), seats, quota);
        while !over {
            let votes = self.history.last().expect("a stage").clone();
            let mut pending: Vec<String> = self
                .won
                .iter()
                .filter(|c| !self.settled.contains_key(*c) && votes[*c] > quota)
                .cloned()
                .collect();
            self.sort_by_precedence(&mut pending);
            let action = if let Some(first) = pending.first().cloned() {
                let total = votes[&first];
                let surplus = total.minus(quota);
                self.pass_on(&first, |value| surplus.times(value).over(total).truncated());
                self.settled.insert(first.clone(), quota);
                format!("surplus {first}")
            } else {
                let mut loser = self.hopeful[0].clone();
                for c in &self.hopeful[1..] {
                    if !self.ahead_of(c, &loser) {
                        loser = c.clone();
                    }
                }
                self.hopeful.retain(|c| *c != loser);
                self.pass_on(&loser, |value| value);
                format!("exclude {loser}")
            };
            over = self.stage(action, seats, quota);
        }
        (self.won, self.stages)
    }
}

fn action_name(action: &Action) -> String {
    match action {
        Action::FirstPreferences => "first".to_owned(),
        Action::SurplusTransferred { from, .. } => format!("surplus {from}"),
        Action::Excluded(c) => format!("exclude {c}"),
    }
}

fn random_profile(rng: &mut StdRng, candidates: &[String]) -> Vec<Ranked> {
    let ballots = rng.gen_range(5..=60);
    (0..ballots)
        .map(|_| {
            let mut ranking = candidates.to_vec();
            ranking.shuffle(rng);
            ranking.truncate(rng.gen_range(1..=candidates.len()));
            // Now and then a name not standing, or nobody at all, as real input may have.
            if rng.gen_ratio(1, 20) {
                let at = rng.gen_range(0..=ranking.len());
                ranking.insert(at, "stranger".to_owned());
            }
            if rng.gen_ratio(1, 60) {
                ranking.clear();
            }
            Ranked {
                ranking,
                weight: rng.gen_range(1..=3) * ONE,
            }
        })
        .collect()
}

/// Checks one profile stage by stage; returns how many stages lost value to truncation and
/// whether a tie-break decided an exclusion.
fn compare(candidates: &[String], seats: usize, profile: &[Ranked]) -> (usize, bool) {
    let outcome = count(candidates, seats, profile);
    let (won, stages) = Reference::new(candidates, profile).run(seats);
    let context = format!("seats {seats}, profile {profile:?}");
    assert_eq!(outcome.elected, won, "{context}");
    assert_eq!(
        outcome.elected.len(),
        seats.min(candidates.len()),
        "{context}"
    );
    assert_eq!(outcome.rounds.len(), stages.len(), "{context}");
    let mut gone = 0;
    for (round, stage) in outcome.rounds.iter().zip(&stages) {
        assert_eq!(action_name(&round.action), stage.action, "{context}");
        let tallies: Vec<(String, Frac)> = round
            .tallies
            .iter()
            .map(|(c, v)| (c.clone(), Frac::new(*v, VOTE)))
            .collect();
        assert_eq!(tallies, stage.tallies, "{context}");
        assert_eq!(round.elected, stage.elected, "{context}");
        // Conservation: what candidates hold plus what went nowhere is every valid vote.
        gone += round.exhausted + round.rounding_loss;
        let held: Value = round.tallies.iter().map(|(_, v)| v).sum();
        assert_eq!(held + gone, outcome.valid, "{context}");
    }
    let truncating = outcome
        .rounds
        .iter()
        .filter(|r| r.rounding_loss > 0)
        .count();
    (truncating, has_tied_exclusion(&outcome))
}

#[test]
fn agrees_with_reference_on_2000_random_profiles() {
    let mut rng = StdRng::seed_from_u64(0x5c07_2007);
    let mut truncating_stages = 0;
    let mut tied_exclusions = 0;
    for _ in 0..2000 {
        let candidates: Vec<String> = (0..rng.gen_range(3..=7)).map(|c| format!("c{c}")).collect();
        let seats = rng.gen_range(1..=3);
        let profile = random_profile(&mut rng, &candidates);
        let (truncating, tied) = compare(&candidates, seats, &profile);
        truncating_stages += truncating;
        tied_exclusions += usize::from(tied);
    }
    // The comparison must reach the paths that matter, not just easy counts.
    assert!(
        truncating_stages > 200,
        "only {truncating_stages} truncating stages"
    );
    assert!(
        tied_exclusions > 200,
        "only {tied_exclusions} profiles with tied exclusions"
    );
}

/// Whether some excluded candidate was tied with another at the stage before (so a
/// tie-break decided it). Elected candidates hold at least the quota and continuing ones
/// less, so a tie on the loser's votes is a tie between continuing candidates.
fn has_tied_exclusion(outcome: &Outcome) -> bool {
    outcome.rounds.windows(2).any(|pair| {
        let Action::Excluded(loser) = &pair[1].action else {
            return false;
        };
        let before = &pair[0].tallies;
        let low = before.iter().find(|(c, _)| c == loser).map(|(_, v)| *v);
        before.iter().filter(|(_, v)| Some(*v) == low).count() > 1
    })
}
