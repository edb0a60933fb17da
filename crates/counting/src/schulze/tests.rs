use super::*;
use crate::testing::names;
use crate::ONE;

/// Rows of (voters, ranking written as one letter per candidate, e.g. "ACBED").
fn profile(rows: &[(u64, &str)]) -> Vec<Ranked> {
    rows.iter()
        .map(|(voters, ranking)| Ranked {
            ranking: ranking.chars().map(String::from).collect(),
            weight: voters * ONE,
        })
        .collect()
}

/// A matrix in whole votes, to compare with the published tables.
fn votes(matrix: &[Vec<Weight>]) -> Vec<Vec<u64>> {
    let whole = |w: &Weight| {
        assert_eq!(w % ONE, 0, "not a whole number of votes");
        w / ONE
    };
    matrix
        .iter()
        .map(|row| row.iter().map(whole).collect())
        .collect()
}

/// Wikipedia, "Schulze method", section "Example" (the 45-voter example also in Schulze's
/// paper): both published tables, d and p, the winner E and the ranking E > A > C > B > D.
#[test]
fn wikipedia_45_voters() {
    let outcome = count(
        &names("A B C D E"),
        &profile(&[
            (5, "ACBED"),
            (5, "ADECB"),
            (8, "BEDAC"),
            (3, "CABED"),
            (7, "CAEBD"),
            (2, "CBADE"),
            (7, "DCEBA"),
            (8, "EBADC"),
        ]),
    );
    #[rustfmt::skip]
    let d = [
        [0, 20, 26, 30, 22],
        [25, 0, 16, 33, 18],
        [19, 29, 0, 17, 24],
        [15, 12, 28, 0, 14],
        [23, 27, 21, 31, 0],
    ];
    #[rustfmt::skip]
    let p = [
        [0, 28, 28, 30, 24],
        [25, 0, 28, 33, 24],
        [25, 29, 0, 29, 24],
        [25, 28, 28, 0, 24],
        [25, 28, 28, 31, 0],
    ];
    assert_eq!(votes(&outcome.pairwise), d);
    assert_eq!(votes(&outcome.strongest), p);
    assert_eq!(outcome.winners, ["E"]);
    assert_eq!(outcome.winner.as_deref(), Some("E"));
    assert_eq!(outcome.ranking, names("E A C B D"));
}

/// M. Schulze, "The Schulze Method of Voting" (arXiv:1804.02973), examples section: the
/// 21-voter, 4-candidate example (ballots as also transcribed in the Condorcet PHP test
/// suite, "Schulze official example 1"): the winner is D. The d matrix below is counted by hand
/// from the ballots and p follows from its defeats (B>A 13, A>C 14, D>A 11, C>B 15, D>B 19,
/// C>D 12), giving the order D > A > C > B.
#[test]
fn schulze_paper_21_voters() {
    let outcome = count(
        &names("A B C D"),
        &profile(&[
            (8, "ACDB"),
            (2, "BADC"),
            (4, "CDBA"),
            (4, "DBAC"),
            (3, "DCBA"),
        ]),
    );
    #[rustfmt::skip]
    let d = [
        [0, 8, 14, 10],
        [13, 0, 6, 2],
        [7, 15, 0, 12],
        [11, 19, 9, 0],
    ];
    #[rustfmt::skip]
    let p = [
        [0, 14, 14, 12],
        [13, 0, 13, 12],
        [13, 15, 0, 12],
        [13, 19, 13, 0],
    ];
    assert_eq!(votes(&outcome.pairwise), d);
    assert_eq!(votes(&outcome.strongest), p);
    assert_eq!(outcome.winners, ["D"]);
    assert_eq!(outcome.ranking, names("D A C B"));
}

/// The same paper's tie example (9 voters; also Condorcet PHP's "Schulze official example
/// 2", written there with the last place left off, which changes nothing): B and D are both
/// Schulze winners. The tie-break takes B, listed before D; the ranking puts the winners
/// first (B, D), then A and C, whom only removed candidates beat.
#[test]
fn schulze_paper_tie_goes_to_the_candidate_listed_first() {
    let outcome = count(
        &names("A B C D"),
        &profile(&[(3, "ABCD"), (2, "DABC"), (2, "DBCA"), (2, "CBDA")]),
    );
    assert_eq!(outcome.winners, ["B", "D"]);
    assert_eq!(outcome.winner.as_deref(), Some("B"));
    assert_eq!(outcome.ranking, names("B D A C"));
    // Listing D first flips only the tie-break, not the winner set.
    let flipped = count(
        &names("D B C A"),
        &profile(&[(3, "ABCD"), (2, "DABC"), (2, "DBCA"), (2, "CBDA")]),
    );
    assert_eq!(flipped.winners, ["D", "B"]);
    assert_eq!(flipped.winner.as_deref(), Some("D"));
}

/// A named candidate is above every unnamed one; unnamed candidates are tied, so a short
/// ballot counts for neither side between them. Unknown names and repeats are skipped.
#[test]
fn truncated_ballots_rank_named_above_unnamed() {
    let outcome = count(
        &names("A B C"),
        &[
            Ranked {
                ranking: names("B"),
                weight: ONE,
            },
            Ranked {
                ranking: names("zz A A"),
                weight: ONE / 2,
            },
        ],
    );
    let half = ONE / 2;
    #[rustfmt::skip]
    let d = vec![
        vec![0, half, half],
        vec![ONE, 0, ONE],
        vec![0, 0, 0],
    ];
    assert_eq!(outcome.pairwise, d);
    assert_eq!(outcome.winner.as_deref(), Some("B"));
    assert_eq!(outcome.ranking, names("B A C"));
}

#[test]
fn no_ballots_ties_everyone_and_has_no_winner() {
    let outcome = count(&names("A B"), &[]);
    assert_eq!(outcome.winners, ["A", "B"]);
    assert_eq!(outcome.winner, None);
    assert_eq!(outcome.ranking, ["A", "B"]);
    assert_eq!(count(&[], &profile(&[(1, "A")])).winner, None);
}

/// Schulze against pref-voting's `beat_path` (its Schulze rule) on the shared random
/// profiles: the winner set on complete ballots, and on truncated copies of the same ballots
/// both the winner set (path strength = winning votes) and the whole pairwise matrix.
#[test]
fn agrees_with_pref_voting_on_random_profiles() {
    for (i, (random, reference)) in pref_voting::results().iter().enumerate() {
        let candidates = random.candidates();
        let complete = count(&candidates, &random.complete());
        let truncated = count(&candidates, &random.truncated());
        let support: Vec<Vec<u64>> =
            serde_json::from_value(reference["support_truncated"].clone()).expect("matrix");
        let differs = [
            (complete.winners, pref_voting::names(&reference["schulze"])),
            (
                truncated.winners,
                pref_voting::names(&reference["schulze_truncated"]),
            ),
        ];
        for (ours, theirs) in differs {
            assert_eq!(ours, theirs, "winners differ on {}", random.describe(i));
        }
        assert_eq!(
            votes(&truncated.pairwise),
            support,
            "pairwise matrix differs on {}",
            random.describe(i)
        );
    }
}

/// The random comparison with pref-voting (PyPI), shared by the Schulze, Borda and IRV tests:
/// one Python process counts all the profiles for all three methods (pref-voting's numba
/// start-up alone takes about ten seconds), and each test compares its own method. Needs
/// `python3 -m pip install pref-voting`; without it every comparison fails, never skips.
pub(crate) mod pref_voting {
    use std::{path::Path, process::Command, sync::OnceLock};

    use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
    use serde_json::{json, Value};

    use crate::{Ranked, ONE};

    const PROFILES: usize = 2000;

    /// A random profile over candidates `c0`..: complete rankings (as candidate numbers,
    /// the form pref-voting takes) with integer weights 1-3, and for each ranking how many
    /// places its truncated copy keeps.
    pub(crate) struct Profile {
        n: usize,
        ballots: Vec<Vec<usize>>,
        counts: Vec<u64>,
        cut: Vec<usize>,
    }

    impl Profile {
        pub(crate) fn candidates(&self) -> Vec<String> {
            (0..self.n).map(name).collect()
        }

        pub(crate) fn complete(&self) -> Vec<Ranked> {
            self.ranked(|ballot, _| ballot)
        }

        pub(crate) fn truncated(&self) -> Vec<Ranked> {
            self.ranked(|ballot, cut| &ballot[..cut])
        }

        fn ranked(&self, keep: impl Fn(&[usize], usize) -> &[usize]) -> Vec<Ranked> {
            let rows = self.ballots.iter().zip(&self.counts).zip(&self.cut);
            rows.map(|((ballot, count), &cut)| Ranked {
                ranking: keep(ballot, cut).iter().map(|&c| name(c)).collect(),
                weight: count * ONE,
            })
            .collect()
        }

        fn json(&self) -> Value {
            json!({"n": self.n, "ballots": self.ballots, "counts": self.counts, "cut": self.cut})
        }

        /// Names the profile in a failure message, so it can be replayed.
        pub(crate) fn describe(&self, index: usize) -> String {
            format!("random profile #{index}: {}", self.json())
        }
    }

    fn name(c: usize) -> String {
        format!("c{c}")
    }

    /// Candidate ids from pref-voting's list of candidate numbers (sorted, so in ballot order).
    pub(crate) fn names(list: &Value) -> Vec<String> {
        let numbers: Vec<usize> = serde_json::from_value(list.clone()).expect("candidate list");
        numbers.into_iter().map(name).collect()
    }

    /// 2,000 seeded profiles: 3-6 candidates, 5-50 ballots. Small profiles with small weights
    /// tie often, so the tie rules get exercised as well as the plain cases.
    fn generate() -> Vec<Profile> {
        let mut rng = StdRng::seed_from_u64(20_261_206);
        (0..PROFILES)
            .map(|_| {
                let n = rng.gen_range(3..=6);
                let rows = rng.gen_range(5..=50);
                let mut ballots = Vec::with_capacity(rows);
                for _ in 0..rows {
                    let mut ranking: Vec<usize> = (0..n).collect();
                    ranking.shuffle(&mut rng);
                    ballots.push(ranking);
                }
                Profile {
                    n,
                    ballots,
                    counts: (0..rows).map(|_| rng.gen_range(1..=3)).collect(),
                    cut: (0..rows).map(|_| rng.gen_range(1..=n)).collect(),
                }
            })
            .collect()
    }

    /// Each profile with pref-voting's counts of it; panics (failing the calling test) when
    /// python3, pref-voting or the script is missing or broken.
    pub(crate) fn results() -> &'static [(Profile, Value)] {
        static RESULTS: OnceLock<Result<Vec<(Profile, Value)>, String>> = OnceLock::new();
        match RESULTS.get_or_init(run) {
            Ok(results) => results,
            Err(message) => panic!("{message}"),
        }
    }

    fn run() -> Result<Vec<(Profile, Value)>, String> {
        let profiles = generate();
        let input = Value::Array(profiles.iter().map(Profile::json).collect());
        let file = std::env::temp_dir().join(format!(
            "votemesh-counting-pref-voting-{}.json",
            std::process::id()
        ));
        std::fs::write(&file, input.to_string()).map_err(|e| format!("writing {file:?}: {e}"))?;
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/pref_voting_reference.py");
        let output = Command::new("python3").arg(&script).arg(&file).output();
        let _ = std::fs::remove_file(&file);
        let output = output.map_err(|e| {
            format!(
                "cannot run python3 ({e}): the comparison with pref-voting needs python3 and \
                 `python3 -m pip install pref-voting`"
            )
        })?;
        if !output.status.success() {
            return Err(format!(
                "{} failed ({}): {}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let results: Vec<Value> = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("reading pref-voting's results: {e}"))?;
        if results.len() != profiles.len() {
            return Err(format!("{} results for {PROFILES} profiles", results.len()));
        }
        Ok(profiles.into_iter().zip(results).collect())
    }
}
