use super::*;
use proto_gen::{election::v1::Election, voting::v1::Selection};

fn question(id: &str, method: BallotMethod) -> Question {
    Question {
        question_id: id.into(),
        method: method as i32,
        seats: 1,
        ..Default::default()
    }
}

/// An election "e": a 3-seat STV question (a, b, c, d) and a yes/no referendum "ref" that
/// allows abstaining.
fn view() -> Sheet {
    let board = Question {
        seats: 3,
        ..question("e", BallotMethod::Stv)
    };
    let referendum = Question {
        allow_abstain: true,
        ..question("ref", BallotMethod::Plurality)
    };
    let candidates = [
        ("e", "a"),
        ("e", "b"),
        ("e", "c"),
        ("e", "d"),
        ("ref", "yes"),
        ("ref", "no"),
    ];
    Sheet {
        election: Election {
            election_id: "e".into(),
            questions: vec![board, referendum],
            ..Default::default()
        },
        candidates: candidates
            .iter()
            .map(|(q, c)| (q.to_string(), c.to_string()))
            .collect(),
        padded_len: 0,
    }
}

fn answer(question: &str, ids: &[&str]) -> Answer {
    Answer {
        question_id: question.into(),
        candidate_ids: ids.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn cast(answers: Vec<Answer>) -> CastBallotRequest {
    CastBallotRequest {
        election_id: "e".into(),
        selection: None,
        answers,
    }
}

fn refused_field(view: &Sheet, request: &CastBallotRequest) -> String {
    match validate(view, request) {
        Err(ServiceError::InvalidArgument { field, .. }) => field,
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

#[test]
fn a_full_ballot_is_kept_in_question_order_and_a_left_out_referendum_abstains() {
    let view = view();
    let answers = validate(
        &view,
        &cast(vec![answer("ref", &["no"]), answer("e", &["c", "a"])]),
    )
    .expect("valid");
    assert_eq!(answers, [answer("e", &["c", "a"]), answer("ref", &["no"])]);
    let abstaining = validate(&view, &cast(vec![answer("e", &["b"])])).expect("valid");
    assert!(abstaining[1].abstain && abstaining[1].candidate_ids.is_empty());
}

#[test]
fn each_refusal_names_the_field() {
    let view = view();
    assert_eq!(
        refused_field(&view, &cast(vec![answer("ref", &["yes"])])),
        "answers",
        "the STV question is required"
    );
    assert_eq!(
        refused_field(
            &view,
            &cast(vec![answer("e", &["a"]), answer("nope", &["x"])])
        ),
        "answers[1].question_id"
    );
    assert_eq!(
        refused_field(&view, &cast(vec![answer("e", &["a", "b", "a"])])),
        "answers[0].candidate_ids",
        "ranking a candidate twice"
    );
    assert_eq!(
        refused_field(
            &view,
            &cast(vec![answer("e", &["a"]), answer("ref", &["a"])])
        ),
        "answers[1].candidate_ids",
        "a candidate of another question"
    );
    assert_eq!(
        refused_field(&view, &cast(vec![answer("e", &["a"]), answer("e", &["b"])])),
        "answers[1].question_id"
    );
    let abstain_on_board = Answer {
        abstain: true,
        ..answer("e", &[])
    };
    assert_eq!(
        refused_field(&view, &cast(vec![abstain_on_board])),
        "answers[0].abstain"
    );
    let old_shape = CastBallotRequest {
        selection: Some(Selection {
            candidate_ids: vec!["a".into()],
        }),
        ..cast(vec![])
    };
    assert_eq!(refused_field(&view, &old_shape), "answers", "two questions");
}

#[test]
fn the_old_shape_still_answers_a_one_question_election() {
    let mut view = view();
    view.election.questions.truncate(1);
    view.election.questions[0].method = BallotMethod::Plurality as i32;
    let request = CastBallotRequest {
        selection: Some(Selection {
            candidate_ids: vec!["a".into(), "b".into()],
        }),
        ..cast(vec![])
    };
    assert_eq!(refused_field(&view, &request), "selection.candidate_ids");
    let request = CastBallotRequest {
        selection: Some(Selection {
            candidate_ids: vec!["b".into()],
        }),
        ..cast(vec![])
    };
    assert_eq!(
        validate(&view, &request).expect("valid"),
        [answer("e", &["b"])]
    );
}

#[test]
fn scores_come_one_per_candidate_within_the_range() {
    let mut view = view();
    view.election.questions[0] = Question {
        max_score: 5,
        ..question("e", BallotMethod::Score)
    };
    let scored = |scores: &[u32]| Answer {
        scores: scores.to_vec(),
        ..answer("e", &["a", "b"])
    };
    assert!(validate(&view, &cast(vec![scored(&[5, 0])])).is_ok());
    assert_eq!(
        refused_field(&view, &cast(vec![scored(&[6, 0])])),
        "answers[0].scores"
    );
    assert_eq!(
        refused_field(&view, &cast(vec![scored(&[1])])),
        "answers[0].scores"
    );
}
