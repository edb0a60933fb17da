//! Acceptance 5: SIGKILL svc-notify while 500 confirmations are flowing and start it again:
//! the SMTP server receives exactly one message per vote.

use std::{collections::BTreeMap, time::Duration};

use proto_gen::notify::v1::notify_service_server::SERVICE_NAME as NOTIFY_SERVICE;

use crate::support::{
    ballots::{cast_all, unthrottled_voters, voters, Job, Wiring},
    mail::SmtpSink,
    process::*,
    *,
};

const VOTES: usize = 500;

/// `votemesh notify` on the broker, sending to `smtp`; a short lease, so the restarted one
/// takes over what the killed one held within seconds.
fn notify_process(mesh: &Mesh, wiring: &Wiring, smtp: &SmtpSink) -> ChildGuard {
    ChildGuard::spawn(
        service_command(mesh, "notify")
            .env("VOTEMESH_KAFKA_BROKERS", kafka())
            .env("VOTEMESH_VOTE_TOPIC", &wiring.vote_topic)
            .env(
                "VOTEMESH_CONTACT_TOPIC",
                format!("{}.contact", wiring.vote_topic),
            )
            .env(
                "VOTEMESH_NOTIFICATION_TOPIC",
                format!("{}.requests", wiring.vote_topic),
            )
            .env("VOTEMESH_NOTIFY_CONSUMER_GROUP", &wiring.group)
            .env("VOTEMESH_SMTP_URL", smtp.url())
            .env("VOTEMESH_NOTIFY_SEND_LEASE_MS", "2000"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_notifier_sends_exactly_one_confirmation_per_vote() {
    let smtp = SmtpSink::start().await.expect("SMTP server");
    let wiring = Wiring::fresh();
    let topics = wiring.clone();
    let mesh = spawn_mesh_with(MeshOptions {
        // Registration here is set-up, not the subject: addresses count as proven.
        user: Instances::one().configured(|config: &mut svc_user::Config| {
            config.bench_only_insecure_password_hash = true;
        }),
        candidate: Instances::one(),
        voting: Instances::one().configured(move |config: &mut svc_voting::Config| {
            config.kafka_brokers = Some(kafka());
            config.ballot_topic = topics.ballot_topic.clone();
            config.vote_topic = topics.vote_topic.clone();
        }),
        edge: Box::new(unthrottled_voters),
        ..Default::default()
    })
    .await;
    let first = notify_process(&mesh, &wiring, &smtp);
    mesh.wait_for_instances(NOTIFY_SERVICE, 1).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let election = crate::support::ballots::open_election(
        &api,
        &admin.access,
        "BALLOT_METHOD_PLURALITY",
        2,
        "RESULTS_VISIBILITY_LIVE",
    )
    .await;
    let people = voters(&api, VOTES, "notified").await;
    let jobs: Vec<Job> = people
        .iter()
        .map(|voter| {
            let choice = vec![election.candidates[0].clone()];
            (election.id.clone(), choice, voter.access.clone())
        })
        .collect();
    let edge = mesh.edge_url.clone();
    // A steady stream, so the kill lands while confirmations flow.
    let casting = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let chunk: Vec<Job> = jobs.by_ref().take(25).collect();
            outcomes.extend(cast_all(&edge, chunk, 4).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        outcomes
    });

    smtp.wait_for_count(100, Duration::from_secs(60))
        .await
        .expect("confirmations flow");
    first.stop(9).await;
    assert!(
        !casting.is_finished(),
        "votes were still coming at the kill"
    );
    mesh.wait_for_instances(NOTIFY_SERVICE, 0).await;
    let _second = notify_process(&mesh, &wiring, &smtp);

    let outcomes = casting.await.expect("casting");
    assert!(outcomes.iter().all(Result::is_ok), "every vote is accepted");
    let mails = smtp
        .wait_for_count(VOTES, Duration::from_secs(120))
        .await
        .expect("every confirmation arrives");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mails = smtp.messages().unwrap_or(mails);
    let mut per_voter: BTreeMap<String, usize> = BTreeMap::new();
    for mail in &mails {
        for to in &mail.to {
            *per_voter.entry(to.to_lowercase()).or_default() += 1;
        }
    }
    let extra: Vec<_> = per_voter.iter().filter(|(_, n)| **n != 1).collect();
    assert!(extra.is_empty(), "more than one message: {extra:?}");
    assert_eq!(per_voter.len(), VOTES, "one message per vote");
    for voter in &people {
        assert!(
            per_voter.contains_key(&voter.email.to_lowercase()),
            "{}",
            voter.email
        );
    }
}
