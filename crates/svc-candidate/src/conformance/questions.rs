//! Questions stored with their election, candidates per question, and the per-question
//! rules for opening.

use proto_gen::election::v1::{BallotMethod, Question};

use super::{candidate, election, event, fields, OPENING};
use crate::store::{CandidateChange, ElectionStore, Guard, SeaElectionStore, Status, StoreError};

fn stv(id: &str, seats: u32) -> Question {
    Question {
        question_id: id.into(),
        title: "Board".into(),
        method: BallotMethod::Stv as i32,
        seats,
        ..Default::default()
    }
}

pub async fn run(store: &SeaElectionStore) -> anyhow::Result<()> {
    let first = crate::questions::only("q1", BallotMethod::Plurality as i32, 1);
    let questions = vec![first.clone(), stv("board", 2)];
    let created = store
        .create_election(crate::store::ElectionRecord {
            questions: questions.clone(),
            ..election("q1")
        })
        .await?;
    assert_eq!(created.questions, questions, "stored and read back");
    let add = |id: &str, question: &str| {
        CandidateChange::Add(crate::store::CandidateRecord {
            question_id: question.into(),
            ..candidate("q1", id)
        })
    };
    for (id, question) in [("yes", "q1"), ("no", "q1"), ("x", "board"), ("y", "board")] {
        store
            .change_candidates("q1", Guard::Any, add(id, question))
            .await?;
    }
    assert!(matches!(
        store
            .change_candidates("q1", Guard::Any, add("z", "elsewhere"))
            .await,
        Err(StoreError::UnknownQuestion)
    ));
    let board: Vec<String> = store
        .candidates("q1")
        .await?
        .into_iter()
        .filter(|c| c.question_id == "board")
        .map(|c| c.id)
        .collect();
    assert_eq!(board, ["x", "y"]);
    let open = |store: &SeaElectionStore| {
        let store = store.clone();
        async move {
            store
                .transition(
                    "q1",
                    Status::Draft,
                    Status::Open,
                    Guard::Any,
                    Some(OPENING),
                    Box::new(event),
                )
                .await
        }
    };
    assert!(
        matches!(open(store).await, Err(StoreError::NotReady(why)) if why.contains("STV needs more candidates than seats")),
        "2 seats need 3 candidates"
    );
    // Dropping the STV question drops its candidates with it.
    let edited = store
        .update_draft(
            "q1",
            Guard::Any,
            crate::store::DraftFields {
                questions: vec![first],
                ..fields("q1", "Referendum")
            },
        )
        .await?;
    assert_eq!(edited.questions.len(), 1);
    let left: Vec<String> = store
        .candidates("q1")
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, ["yes", "no"]);
    // A weight two entries share, beside one everybody else has, refuses to open with k = 3
    // until an admin accepts it; the same transaction reads the roll it opens.
    store
        .import_roll(
            "q1",
            ["a@q.org", "b@q.org", "c@q.org", "d@q.org", "e@q.org"]
                .iter()
                .zip([1, 1, 1, 2, 2])
                .map(|(email, w)| (email.to_string(), w * 1_000_000))
                .collect(),
        )
        .await?;
    let strict = crate::store::OpeningChecks {
        min_weight_group: 3,
        ..OPENING
    };
    let refused = store
        .transition(
            "q1",
            Status::Draft,
            Status::Open,
            Guard::Any,
            Some(strict),
            Box::new(event),
        )
        .await;
    assert!(
        matches!(&refused, Err(StoreError::IdentifyingWeights { weights, min: 3 }) if weights == &["2"]),
        "{refused:?}"
    );
    assert_eq!(open(store).await?.status, Status::Open, "accepted");
    Ok(())
}

/// An election, its candidates and its roll stored before questions (migration 5) read
/// after the upgrade as one question, the election's own, with every entry weighing 1.
pub async fn upgrade_from_before_questions(url: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = kit::db::connect(url, "svc_candidate", 2).await?;
    kit::db::migrate(&db, &crate::store::MIGRATIONS[..5]).await?;
    for sql in [
        "INSERT INTO elections (id, title, description, method, max_choices, opens_at_ms, \
         closes_at_ms, results_visibility, eligibility, status, version, created_at_ms, \
         updated_at_ms) VALUES ('old', 'Old', '', 'approval', 2, 1000, 2000, 'live', 'roll', \
         'draft', 1, 1, 1)",
        "INSERT INTO candidates (id, election_id, name, party, description, image_url, \
         ballot_position) VALUES ('a', 'old', 'A', '', '', '', 1)",
        "INSERT INTO roll_entries (election_id, email) VALUES ('old', 'x@y.org')",
    ] {
        db.execute_unprepared(sql).await?;
    }
    let store = SeaElectionStore::open(url, None, 2).await?;
    let election = store.election("old").await?.expect("kept");
    anyhow::ensure!(
        election.questions
            == [crate::questions::only(
                "old",
                BallotMethod::Approval as i32,
                2
            )],
        "one question: {:?}",
        election.questions
    );
    let candidates = store.candidates("old").await?;
    anyhow::ensure!(candidates[0].question_id == "old", "{candidates:?}");
    anyhow::ensure!(store.on_roll("old", "x@y.org").await? == Some(1_000_000));
    Ok(())
}
