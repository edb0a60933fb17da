//! Waiting for a condition with a deadline: one polling loop for every test, and one clear
//! failure when the condition never holds.

use std::{future::Future, time::Duration};

use tokio::time::Instant;

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(50);

/// Checks `check` until it yields a value. Fails when a check that started at or after
/// `deadline` still yields nothing, so a pass means the condition held by the deadline.
pub async fn until_some<T, F, Fut>(what: &str, deadline: Instant, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let waiting_since = Instant::now();
    loop {
        let started = Instant::now();
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started < deadline,
            "{what}: still not so after {:?}",
            waiting_since.elapsed()
        );
        tokio::time::sleep_until((Instant::now() + POLL).min(deadline)).await;
    }
}

/// [`until_some`] for a yes-or-no check.
pub async fn until<F, Fut>(what: &str, deadline: Instant, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until_some(what, deadline, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await
}

/// [`until_some`], at most `within` from now.
pub async fn eventually_some<T, F, Fut>(what: &str, within: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    until_some(what, Instant::now() + within, check).await
}

/// [`until`], at most `within` from now.
pub async fn eventually<F, Fut>(what: &str, within: Duration, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until(what, Instant::now() + within, check).await
}
