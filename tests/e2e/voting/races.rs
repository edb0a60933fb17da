//! One voter racing hundreds of casts gets one ballot, whether Redis works, is flushed
//! again and again, or is gone.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use futures::future::join_all;
use proto_gen::voting::v1::{
    voting_service_client::VotingServiceClient, GetMyParticipationRequest,
};
use tonic::{transport::Channel, Code};

use super::{open_election, voting_mesh};
use crate::support::{
    ballots::{ballot, recorded, voting_client},
    redis::{redis_cli, PrivateRedis, SHARED_REDIS},
    *,
};

const PLURALITY: &str = "BALLOT_METHOD_PLURALITY";

/// 500 concurrent casts by one voter; returns the codes, with OK for the accepted one.
async fn race(
    client: &VotingServiceClient<Channel>,
    election_id: &str,
    choice: &[String],
    token: &str,
) -> HashMap<Code, usize> {
    let attempts = (0..500).map(|_| {
        let mut client = client.clone();
        let request = ballot(election_id, choice, token);
        async move {
            match client.cast_ballot(request).await {
                Ok(_) => Code::Ok,
                Err(status) => {
                    if !matches!(status.code(), Code::AlreadyExists | Code::Aborted) {
                        eprintln!("unexpected cast outcome: {status:?}");
                    }
                    status.code()
                }
            }
        }
    });
    let mut codes = HashMap::new();
    for code in join_all(attempts).await {
        *codes.entry(code).or_default() += 1;
    }
    codes
}

fn assert_one_accepted(codes: &HashMap<Code, usize>) {
    assert_eq!(
        codes.get(&Code::Ok),
        Some(&1),
        "exactly one accepted: {codes:?}"
    );
    let refused: usize = codes
        .iter()
        .filter(|(code, _)| matches!(code, Code::AlreadyExists | Code::Aborted))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        refused, 499,
        "the rest are ALREADY_EXISTS or ABORTED: {codes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_voter_racing_500_casts_over_two_instances_gets_one_ballot() {
    let mesh = spawn_mesh_with(voting_mesh(2, |config| {
        config.redis_url = Some(SHARED_REDIS.into())
    }))
    .await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let (id, candidates) = open_election(&api, &admin.access, PLURALITY, 1).await;
    let voter = api.voter("racer").await;
    let mut client = voting_client(&mesh.edge_url);

    let codes = race(&client, &id, &candidates[..1], &voter.access).await;
    assert_one_accepted(&codes);
    assert_eq!(recorded(&mut client, &id, &admin.access).await, (1, 1));

    let mine = client
        .get_my_participation(bearer(
            GetMyParticipationRequest {
                election_id: id.clone(),
            },
            &voter.access,
        ))
        .await
        .expect("participation")
        .into_inner();
    assert!(mine.voted && mine.cast_at.is_some());
    let again = client
        .cast_ballot(ballot(&id, &candidates[1..2], &voter.access))
        .await
        .expect_err("second ballot");
    assert_eq!(again.code(), Code::AlreadyExists);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_decides_when_redis_is_flushed_or_gone() {
    let mut redis = PrivateRedis::start().await;
    let url = redis.url();
    let mesh = spawn_mesh_with(voting_mesh(2, move |config| {
        config.redis_url = Some(url.clone())
    }))
    .await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let mut client = voting_client(&mesh.edge_url);

    // Flushed before the race, and again and again until it ends.
    let (flushed_id, candidates) = open_election(&api, &admin.access, PLURALITY, 1).await;
    let voter = api.voter("flushed").await;
    let flush = |port| async move { redis_cli(port, &["flushall"]).await.is_some() };
    assert!(flush(redis.port).await, "Redis flushed before the race");
    let racing = Arc::new(AtomicBool::new(true));
    let flusher = {
        let (port, racing) = (redis.port, racing.clone());
        tokio::spawn(async move {
            let mut flushes = 0;
            while racing.load(Ordering::Relaxed) {
                flushes += u32::from(flush(port).await);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            flushes
        })
    };
    let codes = race(&client, &flushed_id, &candidates[..1], &voter.access).await;
    racing.store(false, Ordering::Relaxed);
    let flushes = flusher.await.expect("flusher");
    assert!(flushes >= 1, "Redis was flushed during the race");
    assert_one_accepted(&codes);
    assert_eq!(
        recorded(&mut client, &flushed_id, &admin.access).await,
        (1, 1)
    );

    // Redis is gone (PING fails) before the race: casting goes on, the unique constraint
    // decides.
    let (gone_id, candidates) = open_election(&api, &admin.access, PLURALITY, 1).await;
    let voter = api.voter("no-redis").await;
    redis.kill().await;
    let fallbacks_before = fallback_count();
    let codes = race(&client, &gone_id, &candidates[..1], &voter.access).await;
    assert_eq!(
        codes.get(&Code::Ok),
        Some(&1),
        "exactly one accepted without Redis: {codes:?}"
    );
    assert_eq!(recorded(&mut client, &gone_id, &admin.access).await, (1, 1));
    let late = api.voter("after-redis").await;
    client
        .cast_ballot(ballot(&gone_id, &candidates[..1], &late.access))
        .await
        .expect("votes go on without Redis");
    assert!(
        fallback_count() > fallbacks_before,
        "lock fallbacks are counted"
    );
}

/// The process-wide `votemesh_cast_lock_fallbacks_total`.
fn fallback_count() -> f64 {
    kit::metrics::handle()
        .map(|handle| handle.render())
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("votemesh_cast_lock_fallbacks_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
