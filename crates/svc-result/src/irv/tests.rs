use std::collections::BTreeMap;

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::*;

fn names(list: &str) -> Vec<String> {
    list.split_whitespace().map(str::to_owned).collect()
}

fn profile(rows: &[(&str, u64)]) -> Vec<(Vec<String>, u64)> {
    rows.iter().map(|(r, n)| (names(r), *n)).collect()
}

fn tallies(round: &Round) -> Vec<(&str, u64)> {
    round
        .tallies
        .iter()
        .map(|(c, v)| (c.as_str(), *v))
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
            ("Memphis Nashville Chattanooga Knoxville", 42),
            ("Nashville Chattanooga Knoxville Memphis", 26),
            ("Chattanooga Knoxville Nashville Memphis", 15),
            ("Knoxville Chattanooga Nashville Memphis", 17),
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
    assert_eq!(
        rounds[0].transfers,
        BTreeMap::from([("Knoxville".into(), 15)])
    );
    assert_eq!(
        tallies(&rounds[1]),
        [("Memphis", 42), ("Nashville", 26), ("Knoxville", 32)]
    );
    assert_eq!(rounds[1].eliminated.as_deref(), Some("Nashville"));
    assert_eq!(
        rounds[1].transfers,
        BTreeMap::from([("Knoxville".into(), 26)])
    );
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
            ("Memphis Nashville Chattanooga Knoxville", 42),
            ("Nashville Chattanooga Knoxville Memphis", 20),
            ("Chattanooga Knoxville Nashville Memphis", 10),
            ("Knoxville Chattanooga Nashville Memphis", 12),
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
            ("A B C D", 4),
            ("B A C D", 2),
            ("B C A D", 1),
            ("D C A B", 2),
            ("C B A D", 5),
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
    assert_eq!(
        rounds[1].transfers,
        BTreeMap::from([("A".into(), 2), ("C".into(), 1)])
    );
    assert_eq!(tallies(&rounds[2]), [("A", 6), ("C", 8)]);
    assert_eq!(outcome.winner.as_deref(), Some("C"));
}

#[test]
fn a_tie_in_every_round_eliminates_the_candidate_listed_last() {
    let outcome = count(&names("A B"), &profile(&[("A", 3), ("B", 3)]));
    assert_eq!(outcome.rounds[0].eliminated.as_deref(), Some("B"));
    assert_eq!(outcome.winner.as_deref(), Some("A"));
}

#[test]
fn exhausted_ballots_stop_counting_and_no_ballots_has_no_winner() {
    let outcome = count(
        &names("A B C"),
        &profile(&[("A", 4), ("B", 3), ("C", 2), ("C B", 1)]),
    );
    // C goes; one ballot moves to B, two exhaust. 4 of 8 is no majority, so B goes next.
    assert_eq!(outcome.rounds[1].exhausted, 2);
    assert_eq!(tallies(&outcome.rounds[1]), [("A", 4), ("B", 4)]);
    assert_eq!(outcome.winner.as_deref(), Some("A"));
    assert_eq!(count(&names("A B"), &[]).winner, None);
}

/// Ballot by ballot, recounting from scratch every round, with the tie-break applied by
/// recounting each earlier round: a second, plainer reading of the same rules.
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
                Some(c) => *votes.get_mut(c).expect("continuing") += 1,
                None => exhausted += 1,
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
        let profile: Vec<(Vec<String>, u64)> = grouped.into_iter().collect();
        assert_eq!(
            count(&candidates, &profile),
            reference(&candidates, &ballots),
            "profile {profile:?}"
        );
    }
}
