//! Issue 3, acceptance 3: importing 10,000 rows with 37 bad ones keeps the 9,963 good rows and
//! reports exactly the 37 bad ones with their row numbers, over gRPC streaming and REST CSV.

use std::{collections::BTreeMap, time::Instant};

use proto_gen::election::v1::{
    election_service_client::ElectionServiceClient, CheckEligibilityRequest, ImportRollRequest,
};
use serde_json::json;
use tonic::Code;

use crate::support::*;

const ROWS: usize = 10_000;

/// 10,000 rows; every 270th row (37 of them) is bad, alternating malformed and duplicate.
fn roll() -> (Vec<String>, BTreeMap<u32, &'static str>) {
    let mut rows = Vec::with_capacity(ROWS);
    let mut bad = BTreeMap::new();
    for index in 0..ROWS {
        let row = index as u32 + 1;
        if index > 0 && index % 270 == 0 {
            if bad.len() % 2 == 0 {
                rows.push(format!("not-an-email-{index}"));
                bad.insert(row, "malformed email");
            } else {
                rows.push(rows[index - 1].to_uppercase());
                bad.insert(row, "duplicate");
            }
        } else {
            rows.push(format!("voter{index}@example.org"));
        }
    }
    assert_eq!(bad.len(), 37);
    (rows, bad)
}

fn check_report(accepted: u64, errors: &[(u32, String)], bad: &BTreeMap<u32, &str>) {
    assert_eq!(accepted, 9_963);
    let rows: Vec<u32> = errors.iter().map(|(row, _)| *row).collect();
    assert_eq!(
        rows,
        bad.keys().copied().collect::<Vec<_>>(),
        "exactly the bad rows, by number"
    );
    for (row, reason) in errors {
        assert!(reason.starts_with(bad[row]), "row {row}: {reason}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_roll_keeps_good_rows_and_reports_every_bad_one() {
    let mesh = spawn_mesh().await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let (rows, bad) = roll();
    let roll_count = |id: &str| {
        let path = format!("/v1/elections/{id}/roll:count");
        let (api, token) = (&api, &admin.access);
        async move { api.get(&path, Some(token)).await.1["count"].clone() }
    };
    let mut body = draft_body("Rolled");
    body["election"]["eligibility"] = json!("ELIGIBILITY_ROLL");

    // gRPC, client-streaming in chunks of 1,000.
    let streamed_id = id_of(&create_election(&api, &admin.access, body.clone()).await);
    let chunks: Vec<ImportRollRequest> = rows
        .chunks(1000)
        .enumerate()
        .map(|(i, chunk)| ImportRollRequest {
            election_id: if i == 0 {
                streamed_id.clone()
            } else {
                String::new()
            },
            emails: chunk.to_vec(),
            entries: Vec::new(),
        })
        .collect();
    let mut client = ElectionServiceClient::connect(mesh.edge_url.clone())
        .await
        .expect("connect");
    let started = Instant::now();
    let report = client
        .import_roll(bearer(futures::stream::iter(chunks), &admin.access))
        .await
        .expect("import")
        .into_inner();
    let grpc_time = started.elapsed();
    let errors: Vec<(u32, String)> = report
        .errors
        .iter()
        .map(|e| (e.row, e.reason.clone()))
        .collect();
    check_report(u64::from(report.accepted), &errors, &bad);
    assert_eq!(report.errors[0].value, "not-an-email-270");
    assert_eq!(roll_count(&streamed_id).await, "9963");

    // REST, the same rows as a CSV file with a header line.
    let csv_id = id_of(&create_election(&api, &admin.access, body).await);
    let csv = format!("email\n{}\n", rows.join("\n"));
    let import = format!("/v1/elections/{csv_id}/roll:import");
    let started = Instant::now();
    let (status, report) = api.post_csv(&import, &admin.access, csv.clone()).await;
    let csv_time = started.elapsed();
    assert_eq!(status, 200);
    let errors: Vec<(u32, String)> = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap_or_default() as u32,
                e["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    check_report(
        report["accepted"].as_u64().unwrap_or_default(),
        &errors,
        &bad,
    );
    eprintln!("roll import of {ROWS} rows: gRPC stream {grpc_time:?}, REST CSV {csv_time:?}");

    // Importing again adds nothing and says why, row by row.
    let (_, again) = api.post_csv(&import, &admin.access, csv).await;
    assert_eq!(again["accepted"], 0);
    assert_eq!(again["errors"].as_array().map(Vec::len), Some(ROWS));
    assert_eq!(roll_count(&csv_id).await, "9963");

    // Sorted by email, so voter9991… come before voter999@; row 9,991 (voter9990) was bad.
    let search = format!("/v1/elections/{csv_id}/roll?email_contains=voter999&page_size=5");
    let (_, page) = api.get(&search, Some(&admin.access)).await;
    let voters = |numbers: [&str; 5]| json!(numbers.map(|n| format!("voter{n}@example.org")));
    assert_eq!(
        page["emails"],
        voters(["9991", "9992", "9993", "9994", "9995"])
    );
    let next = text(&page, "next_page_token");
    let next_page = format!("{search}&page_token={next}");
    let (_, rest) = api.get(&next_page, Some(&admin.access)).await;
    assert_eq!(
        rest["emails"],
        voters(["9996", "9997", "9998", "9999", "999"])
    );
    let entry = format!("/v1/elections/{csv_id}/roll/voter1@example.org");
    assert_eq!(api.delete(&entry, Some(&admin.access)).await.0, 200);
    assert_eq!(api.delete(&entry, Some(&admin.access)).await.0, 404);

    // Eligibility, the internal question svc-voting asks: straight to svc-candidate with the
    // service secret; the edge refuses it.
    let mut direct = ElectionServiceClient::connect(mesh.instances.candidate[0].clone())
        .await
        .expect("connect");
    let ask = |email: &str| {
        let mut request = tonic::Request::new(CheckEligibilityRequest {
            election_id: csv_id.clone(),
            user_id: String::new(),
            email: email.into(),
        });
        request.metadata_mut().insert(
            kit::auth::INTERNAL_TOKEN_HEADER,
            mesh.secret.parse().expect("ascii"),
        );
        request
    };
    let on_roll = direct
        .check_eligibility(ask("Voter2@example.org"))
        .await
        .expect("ask")
        .into_inner();
    assert!(on_roll.eligible);
    assert!(on_roll.election.is_some());
    let removed = direct
        .check_eligibility(ask("voter1@example.org"))
        .await
        .expect("ask")
        .into_inner();
    assert!(!removed.eligible);
    let refused = client
        .check_eligibility(bearer(
            CheckEligibilityRequest {
                election_id: csv_id.clone(),
                user_id: String::new(),
                email: "voter2@example.org".into(),
            },
            &admin.access,
        ))
        .await
        .expect_err("internal only");
    assert_eq!(refused.code(), Code::PermissionDenied);
}
