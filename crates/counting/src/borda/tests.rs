use super::*;
use crate::schulze::tests::pref_voting;
use crate::testing::{names, profile};
use crate::ONE;

/// Points in whole points, to compare with the published tables.
fn points(outcome: &Outcome) -> Vec<(&str, u64)> {
    let whole = |p: &Weight| {
        assert_eq!(p % ONE, 0, "not a whole number of points");
        p / ONE
    };
    outcome
        .points
        .iter()
        .map(|(c, p)| (c.as_str(), whole(p)))
        .collect()
}

/// Wikipedia, "Borda count", the Tennessee capital example (also electowiki's "Effects of
/// different voting systems under similar circumstances"): 42% Memphis, 26% Nashville, 15%
/// Chattanooga, 17% Knoxville, each ranking the others by distance, 3/2/1/0 points.
/// Published totals: Memphis 126, Nashville 194, Chattanooga 173, Knoxville 107; Nashville
/// wins.
#[test]
fn tennessee_capital() {
    let outcome = count(
        &names("Memphis Nashville Chattanooga Knoxville"),
        &profile(&[
            (42, "Memphis Nashville Chattanooga Knoxville"),
            (26, "Nashville Chattanooga Knoxville Memphis"),
            (15, "Chattanooga Knoxville Nashville Memphis"),
            (17, "Knoxville Chattanooga Nashville Memphis"),
        ]),
    );
    assert_eq!(
        points(&outcome),
        [
            ("Memphis", 126),
            ("Nashville", 194),
            ("Chattanooga", 173),
            ("Knoxville", 107)
        ]
    );
    assert_eq!(outcome.winners, ["Nashville"]);
    assert_eq!(outcome.winner.as_deref(), Some("Nashville"));
}

/// D. Lippman, "Math in Society", chapter "Voting Theory", section "Borda Count": 100
/// mathematicians choose a conference city. The book counts 4/3/2/1 points and publishes
/// Seattle 253, Tacoma 325, Puyallup 194, Olympia 228, Tacoma winning although Seattle is
/// the first choice of a majority. Our 3/2/1/0 points are each total minus 100 (one point
/// less from each of the 100 ballots), so the winner is the same.
#[test]
fn lippman_conference_city() {
    let outcome = count(
        &names("Seattle Tacoma Puyallup Olympia"),
        &profile(&[
            (51, "Seattle Tacoma Olympia Puyallup"),
            (25, "Tacoma Puyallup Olympia Seattle"),
            (10, "Puyallup Tacoma Olympia Seattle"),
            (14, "Olympia Tacoma Puyallup Seattle"),
        ]),
    );
    assert_eq!(
        points(&outcome),
        [
            ("Seattle", 253 - 100),
            ("Tacoma", 325 - 100),
            ("Puyallup", 194 - 100),
            ("Olympia", 228 - 100)
        ]
    );
    assert_eq!(outcome.winner.as_deref(), Some("Tacoma"));
}

/// The documented convention for partial rankings: ranked candidates keep their usual
/// points (n - 1 - place, with n counting every candidate), unranked ones score 0. Unknown
/// names and repeats are skipped and the places close up.
#[test]
fn partial_rankings_keep_full_points_and_unranked_score_zero() {
    let outcome = count(
        &names("A B C D"),
        &[
            Ranked {
                ranking: names("B"),
                weight: ONE,
            },
            Ranked {
                ranking: names("C zz C A"),
                weight: ONE / 2,
            },
        ],
    );
    // B: 3 from the bullet vote. C: 3 x 1/2. A: 2 x 1/2. D: nothing.
    let expected = [("A", ONE), ("B", 3 * ONE), ("C", 3 * ONE / 2), ("D", 0)];
    let got: Vec<(&str, Weight)> = outcome
        .points
        .iter()
        .map(|(c, p)| (c.as_str(), *p))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(outcome.winners, ["B"]);
}

#[test]
fn a_tie_goes_to_the_candidate_listed_first() {
    let ballots = profile(&[(2, "A B C"), (2, "B A C")]);
    let outcome = count(&names("B A C"), &ballots);
    assert_eq!(outcome.winners, ["B", "A"]);
    assert_eq!(outcome.winner.as_deref(), Some("B"));
    assert_eq!(
        count(&names("A B C"), &ballots).winner.as_deref(),
        Some("A")
    );
}

#[test]
fn no_ballots_has_no_winner() {
    let outcome = count(&names("A B"), &[]);
    assert_eq!(outcome.points, [("A".into(), 0), ("B".into(), 0)]);
    assert_eq!(outcome.winner, None);
    assert_eq!(count(&[], &profile(&[(1, "A")])).winner, None);
}

/// Borda against pref-voting's `borda` and `Profile.borda_scores` on the shared random
/// profiles, complete rankings only: pref-voting's `Profile` takes linear orders, so it has
/// no truncated-ballot convention to compare with. Compares every candidate's points and the
/// winner set.
#[test]
fn agrees_with_pref_voting_on_random_profiles() {
    for (i, (random, reference)) in pref_voting::results().iter().enumerate() {
        let outcome = count(&random.candidates(), &random.complete());
        let scores: Vec<u64> =
            serde_json::from_value(reference["borda_scores"].clone()).expect("scores");
        let ours: Vec<u64> = outcome.points.iter().map(|(_, p)| p / ONE).collect();
        assert_eq!(ours, scores, "points differ on {}", random.describe(i));
        assert_eq!(
            outcome.winners,
            pref_voting::names(&reference["borda"]),
            "winners differ on {}",
            random.describe(i)
        );
    }
}
