//! Published worked examples (checked stage by stage), the documented tie-breaks, weights
//! and edge cases. The random comparison with an independent reference is in `reference`.

use super::*;
use crate::testing::names;
use crate::Ranked;

mod reference;

/// A profile from `(voters, "A>B>C")` pairs, each voter of weight one.
fn profile(spec: &[(u64, &str)]) -> Vec<Ranked> {
    spec.iter()
        .map(|&(voters, ranking)| Ranked {
            ranking: ranking
                .split('>')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect(),
            weight: voters * ONE,
        })
        .collect()
}

/// One line per stage, so that a whole published result sheet reads as a list of strings:
/// action | transfers received | non-transferable | rounding loss | tallies | elected.
fn render(round: &Round) -> String {
    let action = match &round.action {
        Action::FirstPreferences => "first".to_owned(),
        Action::SurplusTransferred {
            from,
            surplus,
            transfer_value,
        } => {
            format!(
                "surplus {from} {} at {}",
                display(*surplus),
                display(*transfer_value)
            )
        }
        Action::Excluded(c) => format!("exclude {c}"),
    };
    let list = |pairs: Vec<(&String, &Value)>| {
        pairs
            .iter()
            .map(|(c, v)| format!("{c} {}", display(**v)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{action} | +{} | nt {} | loss {} | {} | elected {}",
        list(round.transfers.iter().collect()),
        display(round.exhausted),
        display(round.rounding_loss),
        list(round.tallies.iter().map(|(c, v)| (c, v)).collect()),
        round.elected.join(", ")
    )
}

fn rendered(outcome: &Outcome) -> Vec<String> {
    outcome.rounds.iter().map(render).collect()
}

/// Source: Wikipedia, "Single transferable vote", section "Example" (the food election:
/// 20 guests, 3 seats, Droop quota 6). Later preferences that this count never reads are
/// left out. The only surplus has transfer value 0.5 exactly, so the Scottish rules'
/// fractional transfer gives the article's whole-vote figures at every round: Chocolate
/// elected (round 1), surplus to Strawberries and Hamburgers (2), Pears excluded and Oranges
/// elected on exactly the quota (3), Hamburgers excluded and Strawberries elected (4).
#[test]
fn wikipedia_food_election_round_by_round() {
    let candidates = names("Oranges Pears Chocolate Strawberries Hamburgers");
    let ballots = profile(&[
        (4, "Oranges"),
        (2, "Pears>Oranges"),
        (8, "Chocolate>Strawberries"),
        (4, "Chocolate>Hamburgers"),
        (1, "Strawberries"),
        (1, "Hamburgers"),
    ]);
    let outcome = count(&candidates, 3, &ballots);
    assert_eq!(display(outcome.quota), "6.00000");
    assert_eq!(
        rendered(&outcome),
        [
            "first | + | nt 0.00000 | loss 0.00000 | Oranges 4.00000, Pears 2.00000, \
         Chocolate 12.00000, Strawberries 1.00000, Hamburgers 1.00000 | elected Chocolate",
            "surplus Chocolate 6.00000 at 0.50000 | +Hamburgers 2.00000, Oranges 0.00000, \
         Pears 0.00000, Strawberries 4.00000 | nt 0.00000 | loss 0.00000 | Oranges 4.00000, \
         Pears 2.00000, Chocolate 6.00000, Strawberries 5.00000, Hamburgers 3.00000 | elected ",
            "exclude Pears | +Hamburgers 0.00000, Oranges 2.00000, Strawberries 0.00000 | \
         nt 0.00000 | loss 0.00000 | Oranges 6.00000, Chocolate 6.00000, Strawberries 5.00000, \
         Hamburgers 3.00000 | elected Oranges",
            "exclude Hamburgers | +Strawberries 0.00000 | nt 3.00000 | loss 0.00000 | \
         Oranges 6.00000, Chocolate 6.00000, Strawberries 5.00000 | elected Strawberries",
        ]
    );
    assert_eq!(outcome.elected, names("Chocolate Oranges Strawberries"));
}

/// Source: the Droop STV package (github.com/jklundell/droop), ballots test/blt/42.blt and
/// its Scottish STV reference report test/ref/report/42-scotland-fixed-p5-d5.txt: Castor's
/// surplus of 1 goes at 0.25 to Pollux, Pollux is excluded (non-transferable 1), and Helen
/// fills the last seat under rule 52.
#[test]
fn droop_42_round_by_round() {
    let candidates = names("Castor Pollux Helen");
    let outcome = count(
        &candidates,
        2,
        &profile(&[(4, "Castor>Pollux"), (2, "Helen")]),
    );
    assert_eq!(display(outcome.quota), "3.00000");
    assert_eq!(rendered(&outcome), [
        "first | + | nt 0.00000 | loss 0.00000 | Castor 4.00000, Pollux 0.00000, Helen 2.00000 \
         | elected Castor",
        "surplus Castor 1.00000 at 0.25000 | +Helen 0.00000, Pollux 1.00000 | nt 0.00000 | \
         loss 0.00000 | Castor 3.00000, Pollux 1.00000, Helen 2.00000 | elected ",
        "exclude Pollux | +Helen 0.00000 | nt 1.00000 | loss 0.00000 | Castor 3.00000, \
         Helen 2.00000 | elected Helen",
    ]);
    assert_eq!(outcome.elected, names("Castor Helen"));
}

/// Source: Glasgow City Council election of 3 May 2007, Calton ward (3 seats, 5,199 valid
/// votes), stages 1 and 2 as in Droop's report of the council's published ballot data
/// (test/ref/report/scotland/Calton-2007-scotland-fixed-p5-d5.txt). The profile rebuilds
/// exactly what those stages read: the first preferences, and the next preferences on
/// Redmond's 1,982 papers (each transfer divided by the transfer value 0.34409). Stage 2 is
/// a real five-decimal truncation: 682 / 1982 = 0.344096..., and 0.01362 of the surplus is
/// carried by no paper. Later stages need preferences this profile does not hold, so only
/// the next exclusion (Barton, lowest after stage 2 as in the real count) is checked.
#[test]
fn glasgow_calton_2007_first_stages() {
    let candidates = names(
        "Barton Duke-Wardrop Fullerton Gillespie Graham Houston Murray Redmond Simpson Thewliss",
    );
    let first = [128, 219, 302, 245, 231, 195, 126, 0, 628, 1143];
    let after_redmond = [7, 17, 68, 17, 43, 65, 26, 0, 1183, 95];
    let mut ballots = Vec::new();
    for ((name, &own), &via) in candidates.iter().zip(&first).zip(&after_redmond) {
        ballots.push(Ranked {
            ranking: vec![name.clone()],
            weight: own * ONE,
        });
        let ranking = vec!["Redmond".to_owned(), name.clone()];
        ballots.push(Ranked {
            ranking,
            weight: via * ONE,
        });
    }
    ballots.push(Ranked {
        ranking: vec!["Redmond".to_owned()],
        weight: 461 * ONE,
    });
    let outcome = count(&candidates, 3, &ballots);
    assert_eq!(display(outcome.quota), "1300.00000");
    assert_eq!(display(outcome.valid), "5199.00000");
    let stage_two = &outcome.rounds[1];
    assert_eq!(
        render(stage_two),
        "surplus Redmond 682.00000 at 0.34409 | +Barton 2.40863, \
         Duke-Wardrop 5.84953, Fullerton 23.39812, Gillespie 5.84953, Graham 14.79587, \
         Houston 22.36585, Murray 8.94634, Simpson 407.05847, Thewliss 32.68855 | \
         nt 158.62549 | loss 0.01362 | Barton 130.40863, Duke-Wardrop 224.84953, \
         Fullerton 325.39812, Gillespie 250.84953, Graham 245.79587, Houston 217.36585, \
         Murray 134.94634, Redmond 1300.00000, Simpson 1035.05847, Thewliss 1175.68855 | \
         elected "
    );
    assert_eq!(
        outcome.rounds[2].action,
        Action::Excluded("Barton".to_owned())
    );
}

/// Source: Voting matters, issue 12, "The computational accuracy using the Meek algorithm"
/// (profile as transcribed in Droop's test/blt/SC-Vm-12.blt). Under the Scottish rules A and
/// B both reach the quota exactly at stage 1, and X, Y and Z stay equal at every stage, so
/// every decision is one the Order leaves to lot. Our documented rule elects A before B
/// (earlier on the ballot) and excludes Z, then Y (later on the ballot), electing X. Droop's
/// report draws its lots the other way round and elects Z.
#[test]
fn ties_equal_at_every_stage_follow_ballot_order() {
    let candidates = names("A B X Y Z");
    let ballots = profile(&[
        (333, "A>X"),
        (333, "A>Y"),
        (333, "A>Z"),
        (333, "B>X"),
        (333, "B>Y"),
        (333, "B>Z"),
        (667, "X"),
        (667, "Y"),
        (667, "Z"),
        (1, "A>B>X"),
        (1, "A>B>Y"),
        (2, "B>A>X"),
    ]);
    let outcome = count(&candidates, 3, &ballots);
    assert_eq!(display(outcome.quota), "1001.00000");
    assert_eq!(
        rendered(&outcome),
        [
            "first | + | nt 0.00000 | loss 0.00000 | A 1001.00000, B 1001.00000, X 667.00000, \
         Y 667.00000, Z 667.00000 | elected A, B",
            "exclude Z | +X 0.00000, Y 0.00000 | nt 667.00000 | loss 0.00000 | A 1001.00000, \
         B 1001.00000, X 667.00000, Y 667.00000 | elected ",
            "exclude Y | +X 0.00000 | nt 667.00000 | loss 0.00000 | A 1001.00000, B 1001.00000, \
         X 667.00000 | elected X",
        ]
    );
    assert_eq!(outcome.elected, names("A B X"));
}

/// Source: Droop's test/blt/scotland/weak-defeat.blt and its report: after A's exclusion B
/// and C tie on 3, and rule 51(2)(a) excludes B, who had fewer votes at stage 1, although
/// ballot order alone would exclude C. (Droop lists the two rule-52 winners as D, E; this
/// count lists simultaneous elections by votes, E first.)
#[test]
fn exclusion_tie_looks_back_to_an_earlier_stage() {
    let candidates = names("A B C D E");
    let ballots = profile(&[(1, "A>B"), (2, "B"), (3, "C"), (4, "D"), (5, "E")]);
    let outcome = count(&candidates, 2, &ballots);
    let actions: Vec<&Action> = outcome.rounds.iter().map(|r| &r.action).collect();
    assert_eq!(
        actions,
        [
            &Action::FirstPreferences,
            &Action::Excluded("A".to_owned()),
            &Action::Excluded("B".to_owned()),
            &Action::Excluded("C".to_owned()),
        ]
    );
    assert_eq!(
        render(&outcome.rounds[2]),
        "exclude B | +C 0.00000, D 0.00000, E 0.00000 | \
         nt 3.00000 | loss 0.00000 | C 3.00000, D 4.00000, E 5.00000 | elected "
    );
    assert_eq!(outcome.elected, names("E D"));
}

/// Equal surpluses (rule 49(2)): B and C both reach 7.5 at stage 2, but B had more at
/// stage 1, so B is elected first and B's surplus goes first although C is listed earlier.
/// The two surpluses also show per-paper truncation: a first-preference paper carries
/// 0.5 / 7.5 = 0.06666, a paper received at 0.5 carries 0.03333, and 0.00005 is lost.
#[test]
fn surplus_tie_looks_back_and_truncates_per_paper() {
    let candidates = names("A C B D E");
    let ballots = profile(&[
        (5, "A>B"),
        (9, "A>C"),
        (5, "B>D"),
        (3, "C>E"),
        (5, "D"),
        (4, "E"),
    ]);
    let outcome = count(&candidates, 4, &ballots);
    assert_eq!(display(outcome.quota), "7.00000");
    assert_eq!(
        rendered(&outcome)[1..],
        [
            "surplus A 7.00000 at 0.50000 | +B 2.50000, C 4.50000, D 0.00000, E 0.00000 | \
         nt 0.00000 | loss 0.00000 | A 7.00000, C 7.50000, B 7.50000, D 5.00000, E 4.00000 | \
         elected B, C",
            "surplus B 0.50000 at 0.06666 | +D 0.33330, E 0.00000 | nt 0.16665 | loss 0.00005 | \
         A 7.00000, C 7.50000, B 7.00000, D 5.33330, E 4.00000 | elected ",
            "surplus C 0.50000 at 0.06666 | +D 0.00000, E 0.19998 | nt 0.29997 | loss 0.00005 | \
         A 7.00000, C 7.00000, B 7.00000, D 5.33330, E 4.19998 | elected ",
            "exclude E | +D 0.00000 | nt 4.19998 | loss 0.00000 | A 7.00000, C 7.00000, \
         B 7.00000, D 5.33330 | elected D",
        ]
    );
    assert_eq!(outcome.elected, names("A B C D"));
}

/// Fractional weights stay exact to 10⁻¹¹ of a vote, and the quota still ignores the
/// fraction of the weighted total: 4.083333 / 3 gives 1, so the quota is 2.
#[test]
fn fractional_weights_are_exact() {
    let candidates = names("A B C");
    let ballots = vec![
        Ranked {
            ranking: names("A B"),
            weight: 2_500_000,
        },
        Ranked {
            ranking: names("B"),
            weight: 333_333,
        },
        Ranked {
            ranking: names("C"),
            weight: 1_250_000,
        },
    ];
    let outcome = count(&candidates, 2, &ballots);
    assert_eq!(display(outcome.quota), "2.00000");
    assert_eq!(display_exact(outcome.valid), "4.08333300000");
    // A's surplus of 0.5 goes at 0.2 per voter: 2.5 voters carry 0.5 to B.
    assert_eq!(
        outcome.rounds[1].tallies[1],
        ("B".to_owned(), 83_333_300_000)
    );
    assert_eq!(display(outcome.rounds[1].tallies[1].1), "0.83333");
    assert_eq!(outcome.rounds[2].action, Action::Excluded("B".to_owned()));
    assert_eq!(display_exact(outcome.rounds[2].exhausted), "0.83333300000");
    assert_eq!(outcome.elected, names("A C"));
}

/// A ranking cast by three voters (one entry of weight 3) counts as three separate papers:
/// the transfer value is truncated per voter, not on the entry's total.
#[test]
fn grouped_ballots_count_like_separate_papers() {
    let candidates = names("A B C D");
    let grouped = profile(&[(3, "A>B"), (4, "A>C"), (2, "B"), (3, "C"), (2, "D")]);
    let mut separate = Vec::new();
    for entry in &grouped {
        for _ in 0..entry.weight / ONE {
            separate.push(Ranked {
                ranking: entry.ranking.clone(),
                weight: ONE,
            });
        }
    }
    let (a, b) = (
        count(&candidates, 2, &grouped),
        count(&candidates, 2, &separate),
    );
    assert_eq!(a, b);
    // 7 - 5 = 2 over 7 is 0.28571 per voter: 3 voters carry 0.85713, not 3 × 2/7 = 0.85714.
    assert_eq!(display(a.rounds[1].transfers["B"]), "0.85713");
}

#[test]
fn unknown_names_are_skipped_and_empty_rankings_are_invalid() {
    let candidates = names("A B");
    let ballots = profile(&[(2, "Ghost>A"), (1, "Nobody"), (1, ""), (1, "B>A>B")]);
    let outcome = count(&candidates, 1, &ballots);
    assert_eq!(display(outcome.valid), "3.00000");
    assert_eq!(
        outcome.rounds[0].tallies,
        [("A".to_owned(), 2 * VOTE), ("B".to_owned(), VOTE)]
    );
    assert_eq!(outcome.elected, names("A"));
}

#[test]
fn no_more_candidates_than_seats_elects_all_at_once() {
    let candidates = names("A B C");
    let outcome = count(&candidates, 3, &profile(&[(1, "C"), (2, "B")]));
    assert_eq!(outcome.rounds.len(), 1);
    assert_eq!(outcome.elected, names("B C A"));
    let none = count(&candidates, 0, &profile(&[(1, "C")]));
    assert!(none.elected.is_empty());
    assert_eq!(none.rounds.len(), 1);
}

#[test]
fn display_truncates_to_five_places() {
    assert_eq!(display(12 * VOTE + 34_409 * STEP + 999_999), "12.34409");
    assert_eq!(
        display_exact(12 * VOTE + 34_409 * STEP + 7),
        "12.34409000007"
    );
    assert_eq!(display(0), "0.00000");
}
