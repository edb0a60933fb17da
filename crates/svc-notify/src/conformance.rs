//! The conformance suite every [`DeliveryStore`] adapter must pass; the integration tests run
//! it against PostgreSQL and SQLite.

use anyhow::ensure;

use crate::store::{Channel, DeliveryFilter, DeliveryStore, Kind, NewDelivery, Outcome, Status};

fn delivery(event_id: &str, channel: Channel) -> NewDelivery {
    NewDelivery {
        event_id: event_id.into(),
        channel,
        kind: Kind::Confirmation,
        election_id: "e1".into(),
        user_id: "u1".into(),
        recipient: "ada@example.org".into(),
        subject: "s".into(),
        body: "b".into(),
        source_at_ms: 1,
    }
}

/// Runs every check; fails with the first expectation not met.
pub async fn run(store: &dyn DeliveryStore) -> anyhow::Result<()> {
    once_per_event_and_channel(store).await?;
    claims_are_leased(store).await?;
    outcomes(store).await?;
    listing(store).await?;
    Ok(())
}

async fn statuses(store: &dyn DeliveryStore, event_id: &str) -> anyhow::Result<Vec<Status>> {
    let rows = store
        .list(DeliveryFilter {
            limit: 1000,
            ..Default::default()
        })
        .await?;
    Ok(rows
        .into_iter()
        .filter(|row| row.event_id == event_id)
        .map(|row| row.status)
        .collect())
}

async fn once_per_event_and_channel(store: &dyn DeliveryStore) -> anyhow::Result<()> {
    let rows = [delivery("a", Channel::Email), delivery("a", Channel::Sms)];
    ensure!(
        store.insert(&rows, 3, 10).await? == 2,
        "two channels are two rows"
    );
    ensure!(
        store.insert(&rows, 3, 11).await? == 0,
        "a redelivery adds nothing"
    );
    let skipped = delivery("b", Channel::None);
    ensure!(
        store.insert(&[skipped], 3, 12).await? == 1,
        "a skip is recorded"
    );
    ensure!(
        statuses(store, "b").await? == [Status::Skipped],
        "and is SKIPPED"
    );
    Ok(())
}

async fn claims_are_leased(store: &dyn DeliveryStore) -> anyhow::Result<()> {
    let claimed = store.claim(100, 200, 100).await?;
    let mut ids: Vec<&str> = claimed.iter().map(|c| c.id.as_str()).collect();
    ids.sort();
    ensure!(
        claimed.len() == 2,
        "both pending rows of event a are due: {ids:?}"
    );
    ensure!(
        claimed.iter().all(|c| c.attempts == 1),
        "claiming counts an attempt"
    );
    ensure!(
        store.claim(150, 250, 100).await?.is_empty(),
        "leased rows are not claimed twice"
    );
    let again = store.claim(201, 300, 100).await?;
    ensure!(again.len() == 2, "a lapsed lease frees the rows");
    ensure!(
        again.iter().all(|c| c.attempts == 2),
        "and counts another attempt"
    );
    let lapsed = store.finish(&again[0].id, 1, &Outcome::Sent, 301).await?;
    ensure!(!lapsed, "the lapsed first claim records nothing");
    for claimed in again {
        ensure!(
            store
                .finish(&claimed.id, claimed.attempts, &Outcome::Sent, 301)
                .await?,
            "the claim that holds the row records its send"
        );
    }
    ensure!(
        store.claim(10_000, 20_000, 100).await?.is_empty(),
        "SENT rows are done"
    );
    Ok(())
}

async fn outcomes(store: &dyn DeliveryStore) -> anyhow::Result<()> {
    let rows = [delivery("c", Channel::Email), delivery("d", Channel::Email)];
    store.insert(&rows, 2, 1000).await?;
    let claimed = store.claim(1000, 2000, 100).await?;
    ensure!(claimed.len() == 2, "c and d are due");
    ensure!(
        claimed.iter().all(|x| x.body == "b"),
        "claimed rows carry their body"
    );
    let (first, second) = (&claimed[0], &claimed[1]);
    store
        .finish(&first.id, first.attempts, &Outcome::Sent, 1001)
        .await?;
    let retry = Outcome::Retry {
        error: "down".into(),
        at_ms: 5000,
    };
    store
        .finish(&second.id, second.attempts, &retry, 1001)
        .await?;
    ensure!(
        store.claim(4000, 6000, 100).await?.is_empty(),
        "a retry waits for its time"
    );
    let retried = store.claim(5000, 6000, 100).await?;
    ensure!(
        retried.len() == 1 && retried[0].attempts == 2,
        "then it is due again"
    );
    store
        .finish(&retried[0].id, retried[0].attempts, &retry, 5001)
        .await?;
    let dead = store
        .list(DeliveryFilter {
            status: Some(Status::Dead),
            limit: 10,
            ..Default::default()
        })
        .await?;
    ensure!(
        dead.len() == 1 && dead[0].attempts == 2,
        "spent attempts end DEAD"
    );
    ensure!(dead[0].last_error == "down", "with the last error");
    ensure!(
        store.retry_dead(None, 1, 7000).await? == 1,
        "RetryDead revives it"
    );
    let revived = store.claim(7000, 8000, 100).await?;
    ensure!(revived.len() == 1, "once");
    store
        .finish(&revived[0].id, revived[0].attempts, &Outcome::Sent, 7001)
        .await?;
    let ended = [statuses(store, "c").await?, statuses(store, "d").await?];
    ensure!(
        ended == [[Status::Sent], [Status::Sent]],
        "both ended SENT: {ended:?}"
    );
    let refused = Outcome::Dead {
        error: "550".into(),
    };
    store
        .insert(&[delivery("e", Channel::Email)], 5, 9000)
        .await?;
    let e = store.claim(9000, 9500, 100).await?;
    store
        .finish(&e[0].id, e[0].attempts, &refused, 9001)
        .await?;
    ensure!(
        statuses(store, "e").await? == [Status::Dead],
        "a refusal is DEAD at once"
    );
    Ok(())
}

async fn listing(store: &dyn DeliveryStore) -> anyhow::Result<()> {
    let mut other = delivery("f", Channel::Email);
    other.user_id = "u2".into();
    other.election_id = "e2".into();
    store.insert(&[other], 3, 20_000).await?;
    let mine = store
        .list(DeliveryFilter {
            user_id: Some("u2".into()),
            limit: 10,
            ..Default::default()
        })
        .await?;
    ensure!(mine.len() == 1 && mine[0].event_id == "f", "by user");
    let election = store
        .list(DeliveryFilter {
            election_id: Some("e2".into()),
            limit: 10,
            ..Default::default()
        })
        .await?;
    ensure!(election.len() == 1, "by election");
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list(DeliveryFilter {
                before: before.clone(),
                limit: 2,
                ..Default::default()
            })
            .await?;
        if page.is_empty() {
            break;
        }
        before = page.last().map(|row| (row.created_at_ms, row.id.clone()));
        seen.extend(page.into_iter().map(|row| row.id));
    }
    let total = store
        .list(DeliveryFilter {
            limit: 1000,
            ..Default::default()
        })
        .await?;
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    ensure!(
        unique.len() == seen.len() && seen.len() == total.len(),
        "pages cover every row once ({} of {})",
        seen.len(),
        total.len()
    );
    ensure!(total[0].event_id == "f", "newest first");
    Ok(())
}
