use std::collections::BTreeMap;

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::*;
use crate::schulze::tests::pref_voting;
use crate::testing::{names, profile};
use crate::ONE;

/// A round's tallies in whole votes, to compare with the published tables.
fn tallies(round: &Round) -> Vec<(&str, u64)> {
    round
        .tallies
        .iter()
        .map(|(c, v)| {
            assert_eq!(v % ONE, 0, "not a whole number of votes");
            (c.as_str(), v / ONE)
        })
        .collect()
}

/// Transfers in millionths, from whole votes.
fn moved(rows: &[(&str, u64)]) -> BTreeMap<String, Weight> {
    rows.iter()
        .map(|(c, v)| ((*c).to_owned(), v * ONE))
        .collect()
}

/// The Tennessee capital example (Wikipedia, "Instant-runoff voting"; electowiki,
/// "Effects of different voting systems under similar circumstances"): 42% Memphis, 26%
/// Nashville, 15% Chattanooga, 17% Knoxville, each ranking the others by distance.
/// Chattanooga goes, then Nashville, and Knoxville wins 58 to 42.
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
    let rounds = &outcome.rounds;
    assert_eq!(rounds.len(), 3);
    assert_eq!(
        tallies(&rounds[0]),
        [
            ("Memphis", 42),
            ("Nashville", 26),
            ("Chattanooga", 15),
            ("Knoxville", 17)
        ]
    );
    assert_eq!(rounds[0].eliminated.as_deref(), Some("Chattanooga"));
    assert_eq!(rounds[0].transfers, moved(&[("Knoxville", 15)]));
    assert_eq!(
        tallies(&rounds[1]),
        [("Memphis", 42), ("Nashville", 26), ("Knoxville", 32)]
    );
    assert_eq!(rounds[1].eliminated.as_deref(), Some("Nashville"));
    assert_eq!(rounds[1].transfers, moved(&[("Knoxville", 26)]));
    assert_eq!(tallies(&rounds[2]), [("Memphis", 42), ("Knoxville", 58)]);
    assert_eq!(outcome.winner.as_deref(), Some("Knoxville"));
}

/// "TNexampleTie" (abif.electorama.com, a modified Tennessee example that demonstrates an
/// IRV tie): 42 Memphis, 20 Nashville, 10 Chattanooga, 12 Knoxville. The published rounds
/// are 42/20/10/12, then 42/20/22, then Memphis and Knoxville tied at 42, which San
/// Francisco's and Maine's rules break by lot. Our rule looks back: in round 2 Knoxville
/// had 22 to Memphis's 42, so Knoxville is eliminated and Memphis wins.
#[test]
fn tennessee_tie_is_broken_by_the_earlier_round() {
    let outcome = count(
        &names("Memphis Nashville Chattanooga Knoxville"),
        &profile(&[
            (42, "Memphis Nashville Chattanooga Knoxville"),
            (20, "Nashville Chattanooga Knoxville Memphis"),
            (10, "Chattanooga Knoxville Nashville Memphis"),
            (12, "Knoxville Chattanooga Nashville Memphis"),
        ]),
    );
    let rounds = &outcome.rounds;
    assert_eq!(
        tallies(&rounds[0]),
        [
            ("Memphis", 42),
            ("Nashville", 20),
            ("Chattanooga", 10),
            ("Knoxville", 12)
        ]
    );
    assert_eq!(rounds[0].eliminated.as_deref(), Some("Chattanooga"));
    assert_eq!(
        tallies(&rounds[1]),
        [("Memphis", 42), ("Nashville", 20), ("Knoxville", 22)]
    );
    assert_eq!(rounds[1].eliminated.as_deref(), Some("Nashville"));
    assert_eq!(tallies(&rounds[2]), [("Memphis", 42), ("Knoxville", 42)]);
    assert_eq!(rounds[2].eliminated.as_deref(), Some("Knoxville"));
    assert_eq!(tallies(&rounds[3]), [("Memphis", 84)]);
    assert_eq!(outcome.winner.as_deref(), Some("Memphis"));
}

/// P. Pierzgalski, "Introduction to Electoral Systems", 3.10 Instant Runoff Method (3):
/// ABCD 4, BACD 2, BCAD 1, DCAB 2, CBAD 5. D goes first, then B (majority is 8), and C wins
/// 8 to 6.
#[test]
fn pierzgalski_instant_runoff_example() {
    let outcome = count(
        &names("A B C D"),
        &profile(&[
            (4, "A B C D"),
            (2, "B A C D"),
            (1, "B C A D"),
            (2, "D C A B"),
            (5, "C B A D"),
        ]),
    );
    let rounds = &outcome.rounds;
    assert_eq!(
        tallies(&rounds[0]),
        [("A", 4), ("B", 3), ("C", 5), ("D", 2)]
    );
    assert_eq!(rounds[0].eliminated.as_deref(), Some("D"));
    assert_eq!(tallies(&rounds[1]), [("A", 4), ("B", 3), ("C", 7)]);
    assert_eq!(rounds[1].eliminated.as_deref(), Some("B"));
    assert_eq!(rounds[1].transfers, moved(&[("A", 2), ("C", 1)]));
    assert_eq!(tallies(&rounds[2]), [("A", 6), ("C", 8)]);
    assert_eq!(outcome.winner.as_deref(), Some("C"));
}

#[test]
fn a_tie_in_every_round_eliminates_the_candidate_listed_last() {
    let outcome = count(&names("A B"), &profile(&[(3, "A"), (3, "B")]));
    assert_eq!(outcome.rounds[0].eliminated.as_deref(), Some("B"));
    assert_eq!(outcome.winner.as_deref(), Some("A"));
}

#[test]
fn exhausted_ballots_stop_counting_and_no_ballots_has_no_winner() {
    let outcome = count(
        &names("A B C"),
        &profile(&[(4, "A"), (3, "B"), (2, "C"), (1, "C B")]),
    );
    // C goes; one ballot moves to B, two exhaust. 4 of 8 is no majority, so B goes next.
    assert_eq!(outcome.rounds[1].exhausted, 2 * ONE);
    assert_eq!(tallies(&outcome.rounds[1]), [("A", 4), ("B", 4)]);
    assert_eq!(outcome.winner.as_deref(), Some("A"));
    assert_eq!(count(&names("A B"), &[]).winner, None);
}

/// Weights are exact millionths: 1.5 votes for A, 1.25 for B, 0.5 for C then B. No majority
/// of 3.25 in round one (A has 1.5); C goes and B wins with 1.75.
#[test]
fn fractional_weights_count_exactly() {
    let ballot = |ranking: &str, weight: Weight| Ranked {
        ranking: names(ranking),
        weight,
    };
    let outcome = count(
        &names("A B C"),
        &[
            ballot("A", 1_500_000),
            ballot("B", 1_250_000),
            ballot("C B", 500_000),
        ],
    );
    let round = |i: usize| outcome.rounds[i].tallies.clone();
    let expected = |rows: &[(&str, Weight)]| -> Vec<(String, Weight)> {
        rows.iter().map(|(c, v)| ((*c).to_owned(), *v)).collect()
    };
    assert_eq!(
        round(0),
        expected(&[("A", 1_500_000), ("B", 1_250_000), ("C", 500_000)])
    );
    assert_eq!(round(1), expected(&[("A", 1_500_000), ("B", 1_750_000)]));
    assert_eq!(outcome.winner.as_deref(), Some("B"));
}

/// Ballot by ballot (each ballot a voter of weight [`ONE`]), recounting from scratch every
/// round, with the tie-break applied by recounting each earlier round: a second, plainer
/// reading of the same rules.
fn reference(candidates: &[String], ballots: &[Vec<String>]) -> Outcome {
    let tally = |out: &[String]| -> (BTreeMap<String, u64>, u64) {
        let mut votes: BTreeMap<String, u64> = candidates
            .iter()
            .filter(|c| !out.contains(c))
            .map(|c| (c.clone(), 0))
            .collect();
        let mut exhausted = 0;
        for ballot in ballots {
            match ballot.iter().find(|c| votes.contains_key(*c)) {
                Some(c) => *votes.get_mut(c).expect("continuing") += ONE,
                None => exhausted += ONE,
            }
        }
        (votes, exhausted)
    };
    let mut out: Vec<String> = Vec::new();
    let mut rounds = Vec::new();
    loop {
        let (votes, exhausted) = tally(&out);
        let total: u64 = votes.values().sum();
        let ordered: Vec<(String, u64)> = candidates
            .iter()
            .filter(|c| votes.contains_key(*c))
            .map(|c| (c.clone(), votes[c]))
            .collect();
        let winner = ordered
            .iter()
            .find(|(_, v)| total > 0 && v * 2 > total)
            .map(|(c, _)| c.clone())
            .or_else(|| (ordered.len() == 1).then(|| ordered[0].0.clone()));
        if winner.is_some() || total == 0 {
            rounds.push(Round {
                tallies: ordered,
                eliminated: None,
                transfers: BTreeMap::new(),
                exhausted,
            });
            return Outcome { rounds, winner };
        }
        let fewest = votes.values().min().copied().unwrap_or(0);
        let mut tied: Vec<String> = ordered
            .iter()
            .filter(|(_, v)| *v == fewest)
            .map(|(c, _)| c.clone())
            .collect();
        for earlier in (0..out.len()).rev() {
            let (then, _) = tally(&out[..earlier]);
            let least = tied.iter().map(|c| then[c]).min().unwrap_or(0);
            tied.retain(|c| then[c] == least);
        }
        let loser = tied.last().expect("someone").clone();
        out.push(loser.clone());
        let (after, _) = tally(&out);
        let transfers = after
            .iter()
            .filter(|(c, v)| **v > votes[*c])
            .map(|(c, v)| (c.clone(), v - votes[c]))
            .collect();
        rounds.push(Round {
            tallies: ordered,
            eliminated: Some(loser),
            transfers,
            exhausted,
        });
    }
}

#[test]
fn agrees_with_a_ballot_by_ballot_reference_on_random_profiles() {
    let mut rng = StdRng::seed_from_u64(20261125);
    for _ in 0..2000 {
        let size = rng.gen_range(2..=5);
        let candidates: Vec<String> = (0..size).map(|i| format!("c{i}")).collect();
        let mut ballots = Vec::new();
        for _ in 0..rng.gen_range(0..30) {
            let mut ranking = candidates.clone();
            for i in (1..ranking.len()).rev() {
                ranking.swap(i, rng.gen_range(0..=i));
            }
            ranking.truncate(rng.gen_range(1..=size));
            ballots.push(ranking);
        }
        let mut grouped: BTreeMap<Vec<String>, u64> = BTreeMap::new();
        for ballot in &ballots {
            *grouped.entry(ballot.clone()).or_default() += 1;
        }
        let profile: Vec<Ranked> = grouped
            .into_iter()
            .map(|(ranking, n)| Ranked {
                ranking,
                weight: n * ONE,
            })
            .collect();
        assert_eq!(
            count(&candidates, &profile),
            reference(&candidates, &ballots),
            "profile {profile:?}"
        );
    }
}

/// IRV against pref-voting on the shared random profiles, complete rankings (pref-voting's
/// `Profile` takes linear orders). Its `instant_runoff` removes everyone tied for fewest votes
/// at once, a different tie rule from ours, so the comparison is in two parts:
/// - always, our winner is one of `instant_runoff_put`'s winners (the winners under every way
///   of eliminating one of the tied candidates, which includes our backwards rule);
/// - when no round had a tie for fewest votes, the rules coincide: our elimination order is
///   `instant_runoff_with_explanation`'s and our winner is `instant_runoff_put`'s only one.
#[test]
fn agrees_with_pref_voting_on_random_profiles() {
    let mut exact = 0;
    for (i, (random, reference)) in pref_voting::results().iter().enumerate() {
        let outcome = count(&random.candidates(), &random.complete());
        let put = pref_voting::names(&reference["irv_put"]);
        let winner = outcome
            .winner
            .clone()
            .expect("complete ballots elect someone");
        let on = random.describe(i);
        assert!(put.contains(&winner), "{winner} not in {put:?} on {on}");
        let rounds = reference["irv_eliminated"].as_array().expect("rounds");
        let rounds: Vec<Vec<String>> = rounds.iter().map(pref_voting::names).collect();
        if rounds.iter().all(|round| round.len() == 1) {
            exact += 1;
            let ours: Vec<String> = outcome
                .rounds
                .iter()
                .filter_map(|round| round.eliminated.clone())
                .collect();
            assert_eq!(ours, rounds.concat(), "eliminations differ on {on}");
            assert_eq!(put, [winner], "winners differ on {on}");
        }
    }
    // About two thirds of these profiles have no tie; make sure the exact part is not vacuous.
    assert!(
        exact >= 1000,
        "only {exact} profiles compared round by round"
    );
}
