use std::collections::BTreeMap;

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::*;
use crate::testing::names;
use crate::ONE;

/// One bloc of `voters` voters giving `scores` to `candidates`, in order.
fn bloc(voters: u64, candidates: &[String], scores: &[u32]) -> Scored {
    Scored {
        scores: candidates
            .iter()
            .cloned()
            .zip(scores.iter().copied())
            .collect(),
        weight: voters * ONE,
    }
}

/// Totals in whole points, to compare with the published tables.
fn totals(outcome: &Outcome) -> Vec<(&str, u64)> {
    let whole = |t: &Weight| {
        assert_eq!(t % ONE, 0, "not a whole number of points");
        t / ONE
    };
    outcome
        .totals
        .iter()
        .map(|(c, t)| (c.as_str(), whole(t)))
        .collect()
}

/// Wikipedia, "Score voting", section "Example" (Tennessee capital): 100 voters score each
/// city 0-10 by distance (10 for their own city, 0 for the farthest). Published totals:
/// Memphis 420, Nashville 603, Chattanooga 457, Knoxville 312; Nashville wins.
#[test]
fn wikipedia_tennessee_0_to_10() {
    let cities = names("Memphis Nashville Chattanooga Knoxville");
    let outcome = count(
        &cities,
        10,
        &[
            bloc(42, &cities, &[10, 4, 2, 0]),
            bloc(26, &cities, &[0, 10, 4, 2]),
            bloc(15, &cities, &[0, 6, 10, 6]),
            bloc(17, &cities, &[0, 5, 7, 10]),
        ],
    );
    assert_eq!(
        totals(&outcome),
        [
            ("Memphis", 420),
            ("Nashville", 603),
            ("Chattanooga", 457),
            ("Knoxville", 312)
        ]
    );
    assert_eq!(outcome.winners, ["Nashville"]);
    assert_eq!(outcome.winner.as_deref(), Some("Nashville"));
}

/// Wikipedia, "STAR voting", the Tennessee example, whose first round is a plain score count
/// on a 0-5 scale. Published totals: Memphis 210, Nashville 293, Chattanooga 237, Knoxville
/// 156; Nashville has the highest total (STAR's runoff, not counted here, also elects it).
#[test]
fn wikipedia_star_tennessee_0_to_5() {
    let cities = names("Memphis Nashville Chattanooga Knoxville");
    let outcome = count(
        &cities,
        5,
        &[
            bloc(42, &cities, &[5, 2, 1, 0]),
            bloc(26, &cities, &[0, 5, 2, 1]),
            bloc(15, &cities, &[0, 3, 5, 3]),
            bloc(17, &cities, &[0, 2, 4, 5]),
        ],
    );
    assert_eq!(
        totals(&outcome),
        [
            ("Memphis", 210),
            ("Nashville", 293),
            ("Chattanooga", 237),
            ("Knoxville", 156)
        ]
    );
    assert_eq!(outcome.winner.as_deref(), Some("Nashville"));
}

/// Documented input handling: left out scores 0, a score above `max` counts as `max`,
/// unknown names are skipped and only a candidate's first score on a ballot counts.
#[test]
fn clamps_skips_and_counts_the_first_score_only() {
    let outcome = count(
        &names("A B C"),
        5,
        &[Scored {
            scores: vec![
                ("A".into(), 9),
                ("zz".into(), 5),
                ("B".into(), 2),
                ("B".into(), 5),
            ],
            weight: ONE / 4,
        }],
    );
    let expected = [("A", 5 * ONE / 4), ("B", 2 * ONE / 4), ("C", 0)];
    let got: Vec<(&str, Weight)> = outcome
        .totals
        .iter()
        .map(|(c, t)| (c.as_str(), *t))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn a_tie_goes_to_the_candidate_listed_first_and_no_ballots_has_no_winner() {
    let ballots = [
        bloc(1, &names("A B"), &[3, 1]),
        bloc(1, &names("A B"), &[1, 3]),
    ];
    let outcome = count(&names("B A"), 3, &ballots);
    assert_eq!(outcome.winners, ["B", "A"]);
    assert_eq!(outcome.winner.as_deref(), Some("B"));
    assert_eq!(
        count(&names("A B"), 3, &ballots).winner.as_deref(),
        Some("A")
    );
    assert_eq!(count(&names("A B"), 3, &[]).winner, None);
}

/// pref-voting has no score method, so the second reading is written here, ballot by ballot
/// and in a different shape: per candidate, look the candidate up on every ballot, clamp by
/// comparison, sum in u128, then sort by (highest total, ballot position).
fn reference(candidates: &[String], max: u32, ballots: &[Scored]) -> Outcome {
    let mut sums: BTreeMap<&str, u128> = BTreeMap::new();
    for candidate in candidates {
        let mut sum = 0u128;
        for ballot in ballots {
            let given = ballot.scores.iter().find(|(c, _)| c == candidate);
            let score = given.map_or(0, |(_, s)| if *s > max { max } else { *s });
            sum += u128::from(score) * u128::from(ballot.weight);
        }
        sums.insert(candidate, sum);
    }
    let mut ranked: Vec<(usize, &String)> = candidates.iter().enumerate().collect();
    ranked.sort_by_key(|(position, c)| (std::cmp::Reverse(sums[c.as_str()]), *position));
    let best = ranked.first().map(|(_, c)| sums[c.as_str()]);
    let winners: Vec<String> = ranked
        .iter()
        .filter(|(_, c)| Some(sums[c.as_str()]) == best)
        .map(|(_, c)| (*c).clone())
        .collect();
    let total_weight: u128 = ballots.iter().map(|b| u128::from(b.weight)).sum();
    Outcome {
        totals: candidates
            .iter()
            .map(|c| (c.clone(), Weight::try_from(sums[c.as_str()]).expect("fits")))
            .collect(),
        winner: if total_weight == 0 {
            None
        } else {
            winners.first().cloned()
        },
        winners,
    }
}

/// 2,000 seeded random profiles (3-6 candidates, 5-50 ballots, fractional weights, scores up
/// to max + 2 so clamping happens, candidates left out, unknown names and repeats), each
/// counted by `count` and by `reference`. Scales are small so ties are common.
#[test]
fn agrees_with_an_independent_reference_on_random_profiles() {
    let mut rng = StdRng::seed_from_u64(20_261_207);
    for i in 0..2000 {
        let n = rng.gen_range(3..=6);
        let max = rng.gen_range(1..=5);
        let candidates: Vec<String> = (0..n).map(|c| format!("c{c}")).collect();
        let ballots: Vec<Scored> = (0..rng.gen_range(5..=50))
            .map(|_| Scored {
                scores: (0..rng.gen_range(0..=n + 1))
                    .map(|_| {
                        (
                            format!("c{}", rng.gen_range(0..=n)),
                            rng.gen_range(0..=max + 2),
                        )
                    })
                    .collect(),
                weight: rng.gen_range(1..=3) * ONE / 2,
            })
            .collect();
        assert_eq!(
            count(&candidates, max, &ballots),
            reference(&candidates, max, &ballots),
            "random profile #{i}: max {max}, {ballots:?}"
        );
    }
}
