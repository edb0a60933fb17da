//! One shutdown signal per process or per in-process service: fired by SIGINT/SIGTERM or by
//! hand (tests, the launcher), awaited by servers, background tasks and the registration.
//!
//! It is also the drain: every background task is spawned through [`Shutdown::spawn`], which
//! tracks it, and a server that stops waits for [`Shutdown::drained`] within its deadline.
//! Nothing is aborted: each task sees [`Shutdown::wait`] resolve and ends at a safe point.

use std::{future::Future, time::Duration};

use futures::{Stream, StreamExt};
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::task::TaskTracker;

/// A cloneable trigger-and-wait handle that also counts the tasks a drain waits for.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
    tasks: TaskTracker,
    /// Servers still taking or finishing calls (see [`serve_with_drain_deadline`]).
    serving: watch::Sender<usize>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (sender, _) = watch::channel(false);
        Self {
            sender,
            tasks: TaskTracker::new(),
            serving: watch::channel(0).0,
        }
    }

    /// Spawns a background task the drain waits for. The task must watch [`Self::wait`]
    /// and end soon after it resolves.
    pub fn spawn<F>(&self, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(async move {
            task.await;
            tracing::debug!(task = name, "background task stopped");
        })
    }

    /// Once the shutdown has started, waits up to `deadline` for every task spawned through
    /// [`Self::spawn`] to end; reports whether they all did.
    pub async fn drained(&self, deadline: Duration) -> bool {
        self.wait().await;
        self.tasks.close();
        let drained = tokio::time::timeout(deadline, self.tasks.wait())
            .await
            .is_ok();
        if !drained {
            tracing::warn!(
                remaining = self.tasks.len(),
                ?deadline,
                "background tasks still running after the drain deadline"
            );
        }
        drained
    }

    /// Fires `other` when this shutdown starts. A server builds the signal its streams
    /// watch before it is given the process's shutdown; this joins the two when it runs.
    pub fn propagate_to(&self, other: Shutdown) {
        let this = self.clone();
        self.spawn("propagate shutdown", async move {
            this.wait().await;
            other.trigger();
        });
    }

    /// `stream`, ended as soon as the shutdown starts, so a long-lived stream (a watch) never
    /// holds up a drain.
    pub fn until_stopped<S>(&self, stream: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream + Send + 'static,
    {
        let this = self.clone();
        stream.take_until(async move { this.wait().await })
    }

    /// Starts the shutdown; idempotent.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// Resolves once the shutdown has started and every server sharing it has finished its
    /// calls: for the tasks those calls hand work to (svc-voting's group commit), which
    /// must keep taking work until no call can bring more.
    pub async fn calls_drained(&self) {
        self.wait().await;
        let mut serving = self.serving.subscribe();
        let _ = serving.wait_for(|count| *count == 0).await;
    }

    /// Counts a server as serving until the guard drops.
    fn serving(&self) -> Serving {
        self.serving.send_modify(|count| *count += 1);
        Serving(self.serving.clone())
    }

    /// Resolves once the shutdown has started.
    pub async fn wait(&self) {
        let mut receiver = self.sender.subscribe();
        // An Err means every sender is gone, which cannot happen while `self` lives.
        let _ = receiver.wait_for(|fired| *fired).await;
    }

    /// Fires this shutdown on the first SIGINT or SIGTERM.
    pub fn trigger_on_signals(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown signal received; draining");
            this.trigger();
        });
    }
}

/// Runs `server` until it finishes. Once `shutdown` fires, the server's calls and then the
/// background tasks share one `deadline` to drain: the server is dropped when it passes,
/// closing whatever calls are still open, and [`Shutdown::drained`] gets what is left of it.
pub async fn serve_with_drain_deadline<F, E>(
    name: &str,
    server: F,
    shutdown: &Shutdown,
    deadline: Duration,
) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
{
    let serving = shutdown.serving();
    tokio::pin!(server);
    let ended_early = tokio::select! {
        served = &mut server => Some(served),
        _ = shutdown.wait() => None,
    };
    let give_up = tokio::time::Instant::now() + deadline;
    match ended_early {
        Some(served) => served?,
        None => match tokio::time::timeout_at(give_up, &mut server).await {
            Ok(served) => served?,
            Err(_) => tracing::warn!(
                service = name,
                ?deadline,
                "drain deadline passed; closing the remaining calls"
            ),
        },
    }
    drop(serving);
    // A server that ended on its own, with no shutdown, leaves the tasks to their owner.
    if shutdown.is_triggered() {
        let remaining = give_up.saturating_duration_since(tokio::time::Instant::now());
        shutdown.drained(remaining).await;
    }
    tracing::info!(service = name, "stopped");
    Ok(())
}

struct Serving(watch::Sender<usize>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count = count.saturating_sub(1));
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops this process");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_when_triggered() {
        let shutdown = Shutdown::new();
        let waiter = tokio::spawn({
            let shutdown = shutdown.clone();
            async move { shutdown.wait().await }
        });
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("waiter woke")
            .expect("waiter ran");
        // A waiter that arrives late returns at once.
        shutdown.wait().await;
    }

    #[tokio::test]
    async fn drain_waits_for_tracked_tasks_to_stop() {
        let shutdown = Shutdown::new();
        let (stopped, mut observed) = tokio::sync::oneshot::channel();
        shutdown.spawn("test", {
            let shutdown = shutdown.clone();
            async move {
                shutdown.wait().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = stopped.send(());
            }
        });
        assert!(observed.try_recv().is_err(), "the task runs until shutdown");
        shutdown.trigger();
        assert!(shutdown.drained(Duration::from_secs(5)).await);
        assert!(
            observed.try_recv().is_ok(),
            "drained only after the task ended"
        );
    }

    #[tokio::test]
    async fn drain_gives_up_at_the_deadline() {
        let shutdown = Shutdown::new();
        shutdown.spawn("stubborn", tokio::time::sleep(Duration::from_secs(3600)));
        shutdown.trigger();
        assert!(!shutdown.drained(Duration::from_millis(50)).await);
    }

    #[tokio::test]
    async fn streams_end_when_the_shutdown_starts() {
        let shutdown = Shutdown::new();
        let mut stream = Box::pin(shutdown.until_stopped(futures::stream::pending::<()>()));
        shutdown.trigger();
        let ended = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        assert_eq!(ended.expect("stream ended"), None);
    }

    /// A server draining slowly and a task that never stops: together they get one deadline.
    #[tokio::test]
    async fn calls_and_tasks_share_one_drain_deadline() {
        let shutdown = Shutdown::new();
        shutdown.spawn("stubborn", futures::future::pending::<()>());
        let server = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.wait().await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok::<(), std::convert::Infallible>(())
            }
        };
        let started = std::time::Instant::now();
        shutdown.trigger();
        let served =
            serve_with_drain_deadline("test", server, &shutdown, Duration::from_millis(600)).await;
        let took = started.elapsed();
        assert!(served.is_ok());
        assert!(
            took >= Duration::from_millis(600) && took < Duration::from_millis(850),
            "took {took:?}"
        );
    }
}
