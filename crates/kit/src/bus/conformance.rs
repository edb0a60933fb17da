//! One suite for both bus adapters: what a group commits it never sees again, and what it
//! read without committing comes back to the next member.

use std::time::Duration;

use anyhow::ensure;

use super::{BusError, Delivery, Event, Publisher, StartAt, SubscribeOptions, Subscription};

async fn read(subscription: &mut dyn Subscription, want: usize) -> anyhow::Result<Vec<Delivery>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut got = Vec::new();
    while got.len() < want && tokio::time::Instant::now() < deadline {
        got.extend(
            subscription
                .next_batch(want - got.len(), Duration::from_millis(500))
                .await?,
        );
    }
    // Anything beyond `want` would be a duplicate delivery.
    got.extend(
        subscription
            .next_batch(10, Duration::from_millis(500))
            .await?,
    );
    Ok(got)
}

fn payloads(batch: &[Delivery]) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = batch.iter().map(|d| d.payload.clone()).collect();
    all.sort();
    all
}

pub async fn run<S>(publisher: &dyn Publisher, subscribe: S, topic: &str) -> anyhow::Result<()>
where
    S: Fn(SubscribeOptions) -> Result<Box<dyn Subscription>, BusError>,
{
    let message = |n: u8| Event {
        id: format!("event-{n}"),
        topic: topic.into(),
        key: format!("key-{n}"),
        payload: vec![n],
    };
    let options = SubscribeOptions {
        group: format!("conformance-{}", uuid::Uuid::new_v4().simple()),
        topics: vec![topic.into()],
        start_at: StartAt::Earliest,
    };
    let sent = publisher
        .publish_all(&[message(1), message(2), message(3)])
        .await;
    ensure!(sent.iter().all(Result::is_ok), "published: {sent:?}");

    let mut first = subscribe(options.clone())?;
    let got = read(first.as_mut(), 3).await?;
    ensure!(
        payloads(&got) == [vec![1], vec![2], vec![3]],
        "first read: {got:?}"
    );
    first.commit().await?;
    // Let an asynchronous commit land before the member leaves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(first);

    publisher.publish(&message(4)).await?;
    let mut second = subscribe(options.clone())?;
    let got = read(second.as_mut(), 1).await?;
    ensure!(
        payloads(&got) == [vec![4]],
        "after the commit only the new one: {got:?}"
    );
    drop(second);

    let mut third = subscribe(options)?;
    let got = read(third.as_mut(), 1).await?;
    ensure!(
        payloads(&got) == [vec![4]],
        "uncommitted reads come back: {got:?}"
    );
    Ok(())
}
