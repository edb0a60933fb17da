//! Issue 12, acceptance 4 and 6: a two-question ballot (3-seat STV and a yes/no referendum
//! that allows abstaining) cast over REST, native gRPC and grpc-web is counted per question;
//! malformed ballots are refused with the field named and store nothing; and a client from
//! before questions creates, casts and reads results as it always did.

use prost::Message;
use proto_gen::voting::v1::{Answer, CastBallotRequest, GetMyParticipationRequest};
use serde_json::json;

use super::LIVE;
use crate::{
    grpc_web::{frame, post_grpc_web},
    support::{ballots::*, *},
};

/// Wikipedia's food election ("Single transferable vote", 3 seats, 20 voters), by position
/// among Oranges, Pears, Chocolate, Strawberries, Hamburgers: Chocolate, Oranges and
/// Strawberries are elected.
const FOOD: [(usize, &[usize]); 6] = [
    (4, &[0]),
    (2, &[1, 0]),
    (8, &[2, 3]),
    (4, &[2, 4]),
    (1, &[3]),
    (1, &[4]),
];

struct TwoQuestions {
    id: String,
    referendum: String,
    foods: Vec<String>,
    /// Yes, No.
    options: Vec<String>,
}

/// An OPEN election: a 3-seat STV board, then a yes/no referendum that allows abstaining.
async fn two_questions(api: &Rest, admin: &str) -> TwoQuestions {
    let mut body = draft_body("Board and bylaw");
    body["election"]["questions"] = json!([
        {"title": "Board", "method": "BALLOT_METHOD_STV", "seats": 3},
        {"title": "Bylaw 7", "method": "BALLOT_METHOD_PLURALITY", "allow_abstain": true}
    ]);
    body["election"]["results_visibility"] = json!(LIVE);
    let created = create_election(api, admin, body).await;
    let id = id_of(&created);
    let questions = created["questions"].as_array().expect("questions");
    assert_eq!(questions.len(), 2, "{created}");
    assert_eq!(
        questions[0]["question_id"],
        id.as_str(),
        "the first is the election's"
    );
    assert_eq!(
        created["method"], "BALLOT_METHOD_STV",
        "mirrored for old clients"
    );
    let referendum = questions[1]["question_id"].as_str().expect("id").to_owned();
    let mut foods = Vec::new();
    for name in [
        "Oranges",
        "Pears",
        "Chocolate",
        "Strawberries",
        "Hamburgers",
    ] {
        foods.push(add_candidate(api, admin, &id, name).await);
    }
    let mut options = Vec::new();
    for name in ["Yes", "No"] {
        let (status, added) = api
            .post(
                &format!("/v1/elections/{id}/candidates"),
                Some(admin),
                json!({"candidate": {"name": name, "question_id": referendum}}),
            )
            .await;
        assert_eq!(status, 200, "{added}");
        assert_eq!(added["candidate"]["question_id"], referendum.as_str());
        options.push(text(&added["candidate"], "candidate_id"));
    }
    transition_ok(api, admin, &id, "ELECTION_STATUS_OPEN").await;
    TwoQuestions {
        id,
        referendum,
        foods,
        options,
    }
}

fn answer(question: &str, ids: &[String]) -> Answer {
    Answer {
        question_id: question.into(),
        candidate_ids: ids.to_vec(),
        ..Default::default()
    }
}

/// Voter `i`'s ballot: a ranking from FOOD; Yes for the first 12, No for the next 5, and an
/// abstention from the last 3 (one explicit, two leaving the question out).
fn ballot_of(election: &TwoQuestions, i: usize) -> Vec<Answer> {
    let order = FOOD
        .iter()
        .flat_map(|(count, order)| std::iter::repeat_n(*order, *count))
        .nth(i)
        .expect("20 voters");
    let ranking: Vec<String> = order.iter().map(|&c| election.foods[c].clone()).collect();
    let mut answers = vec![answer(&election.id, &ranking)];
    match i {
        0..12 => answers.push(answer(&election.referendum, &election.options[..1])),
        12..17 => answers.push(answer(&election.referendum, &election.options[1..])),
        17 => answers.push(Answer {
            abstain: true,
            ..answer(&election.referendum, &[])
        }),
        _ => {}
    }
    answers
}

fn request(election: &str, answers: Vec<Answer>) -> CastBallotRequest {
    CastBallotRequest {
        election_id: election.into(),
        selection: None,
        answers,
    }
}

/// Casts over grpc-web; the grpc-status and message.
async fn cast_over_grpc_web(base: &str, token: &str, cast: CastBallotRequest) -> (i32, String) {
    let reply = post_grpc_web(
        base,
        "/votemesh.voting.v1.VotingService/CastBallot",
        "application/grpc-web+proto",
        frame(&cast.encode_to_vec()),
        Some(token),
    )
    .await;
    assert_eq!(reply.http_status, 200);
    (reply.grpc_status.unwrap_or(-1), reply.grpc_message)
}

/// Casts over REST with the answers as JSON; the HTTP status and body.
async fn cast_over_rest(
    api: &Rest,
    token: &str,
    cast: &CastBallotRequest,
) -> (u16, serde_json::Value) {
    let answers: Vec<serde_json::Value> = cast
        .answers
        .iter()
        .map(|a| json!({"question_id": a.question_id, "candidate_ids": a.candidate_ids, "abstain": a.abstain}))
        .collect();
    api.post(
        &format!("/v1/elections/{}/ballots", cast.election_id),
        Some(token),
        json!({"answers": answers}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_question_ballot_over_rest_grpc_and_grpc_web_is_counted_per_question() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 1)).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let election = two_questions(&api, &admin.access).await;
    let people = voters(&api, 21, "twoq").await;
    let mut grpc = voting_client(&mesh.edge_url);

    // Refused, each over one protocol, and nothing is stored for the voter.
    let refused = &people[20];
    let board_only_referendum = request(
        &election.id,
        vec![answer(&election.referendum, &election.options[..1])],
    );
    let (status, body) = cast_over_rest(&api, &refused.access, &board_only_referendum).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("answers") && body.to_string().contains("needs an answer"),
        "{body}"
    );
    let unknown = request(
        &election.id,
        vec![
            answer(&election.id, &election.foods[..1]),
            answer(&uuid::Uuid::new_v4().to_string(), &election.options[..1]),
        ],
    );
    let status = grpc
        .cast_ballot(bearer(unknown, &refused.access))
        .await
        .expect_err("an unknown question");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("answers[1].question_id"),
        "{status:?}"
    );
    let twice = vec![
        election.foods[2].clone(),
        election.foods[3].clone(),
        election.foods[2].clone(),
    ];
    let (code, message) = cast_over_grpc_web(
        &mesh.edge_url,
        &refused.access,
        request(&election.id, vec![answer(&election.id, &twice)]),
    )
    .await;
    assert_eq!(code, tonic::Code::InvalidArgument as i32, "{message}");
    assert!(message.contains("answers[0].candidate_ids"), "{message}");
    let participation = grpc
        .get_my_participation(bearer(
            GetMyParticipationRequest {
                election_id: election.id.clone(),
            },
            &refused.access,
        ))
        .await
        .expect("participation")
        .into_inner();
    assert!(!participation.voted, "a refused ballot stores nothing");

    // Twenty ballots, a third over each protocol.
    for (i, voter) in people[..20].iter().enumerate() {
        let cast = request(&election.id, ballot_of(&election, i));
        match i % 3 {
            0 => {
                let (status, body) = cast_over_rest(&api, &voter.access, &cast).await;
                assert_eq!(status, 200, "voter {i} over REST: {body}");
            }
            1 => {
                grpc.cast_ballot(bearer(cast, &voter.access))
                    .await
                    .unwrap_or_else(|e| panic!("voter {i} over gRPC: {e:?}"));
            }
            _ => {
                let (code, message) = cast_over_grpc_web(&mesh.edge_url, &voter.access, cast).await;
                assert_eq!(code, 0, "voter {i} over grpc-web: {message}");
            }
        }
    }
    assert_eq!(
        recorded(&mut grpc, &election.id, &admin.access).await,
        (20, 20)
    );

    transition_ok(&api, &admin.access, &election.id, "ELECTION_STATUS_CLOSED").await;
    let mut results = result_client(&mesh.edge_url).await;
    let shown = wait_for_total(&mut results, &election.id, &admin.access, 20).await;
    let [board, referendum] = shown.questions.as_slice() else {
        panic!("two questions: {shown:?}");
    };
    let foods = &election.foods;
    assert_eq!(
        board.winner_candidate_ids,
        [foods[2].clone(), foods[0].clone(), foods[3].clone()],
        "Chocolate, Oranges, Strawberries"
    );
    assert_eq!((board.seats, board.answered, board.abstained), (3, 20, 0));
    let first_stage = &board.stv_rounds[0];
    assert_eq!(first_stage.quota, "6.00000", "Droop: 20 / (3 + 1) + 1");
    let votes = |stage: &proto_gen::result::v1::StvRound, who: &str| {
        stage
            .tallies
            .iter()
            .find(|t| t.candidate_id == who)
            .map(|t| t.votes.clone())
    };
    assert_eq!(votes(first_stage, &foods[2]).as_deref(), Some("12.00000"));
    assert_eq!(first_stage.elected, [foods[2].clone()]);
    assert_eq!(
        shown.winner_candidate_id, foods[2],
        "the first question's, as before"
    );

    assert_eq!(referendum.question_id, election.referendum);
    assert_eq!((referendum.answered, referendum.abstained), (17, 3));
    let tally = |who: &str| {
        referendum
            .tallies
            .iter()
            .find(|t| t.candidate_id == who)
            .map(|t| (t.votes, t.weighted_votes.clone()))
    };
    assert_eq!(tally(&election.options[0]), Some((12, "12".into())));
    assert_eq!(tally(&election.options[1]), Some((5, "5".into())));
    assert_eq!(
        referendum.winner_candidate_ids,
        [election.options[0].clone()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_from_before_questions_creates_casts_and_reads_as_it_did() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 1)).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    // The old shape: a method on the election, candidates with no question, a selection.
    let mut body = draft_body("Old client");
    body["election"]["method"] = json!("BALLOT_METHOD_PLURALITY");
    body["election"]["results_visibility"] = json!(LIVE);
    let (id, candidates) = election_with(&api, &admin.access, body, &["Ada", "Bob"]).await;
    transition_ok(&api, &admin.access, &id, "ELECTION_STATUS_OPEN").await;
    let (status, read) = api
        .get(&format!("/v1/elections/{id}"), Some(&admin.access))
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["election"]["method"], "BALLOT_METHOD_PLURALITY");
    assert_eq!(read["election"]["questions"][0]["question_id"], id.as_str());
    let people = voters(&api, 3, "oldc").await;
    for (voter, choice) in people.iter().zip([0, 1, 1]) {
        let (status, cast) = api
            .post(
                &format!("/v1/elections/{id}/ballots"),
                Some(&voter.access),
                json!({"selection": {"candidate_ids": [candidates[choice]]}}),
            )
            .await;
        assert_eq!(status, 200, "{cast}");
        assert!(cast["receipt_code"].is_string());
    }
    let mut results = result_client(&mesh.edge_url).await;
    let shown = wait_for_total(&mut results, &id, &admin.access, 3).await;
    assert_eq!(
        shown_votes(&shown),
        [(candidates[0].clone(), 1), (candidates[1].clone(), 2)].into()
    );
    assert_eq!(shown.winner_candidate_id, candidates[1]);
    assert_eq!(shown.tallies[1].share, 2.0 / 3.0);
}
