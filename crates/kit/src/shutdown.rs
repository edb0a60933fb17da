//! One shutdown signal per process or per in-process service: fired by SIGINT/SIGTERM or by
//! hand (tests, the launcher), awaited by servers, background tasks and the registration.

use tokio::sync::watch;

/// A cloneable trigger-and-wait handle.
#[derive(Clone, Debug)]
pub struct Shutdown {
    sender: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        let (sender, _) = watch::channel(false);
        Self { sender }
    }

    /// Starts the shutdown; idempotent.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
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

/// Runs `server` until it finishes. Once `shutdown` fires it gets `deadline` to drain; after
/// that it is dropped, which closes whatever calls are still open.
pub async fn serve_with_drain_deadline<F, E>(
    name: &str,
    server: F,
    shutdown: &Shutdown,
    deadline: std::time::Duration,
) -> Result<(), E>
where
    F: std::future::Future<Output = Result<(), E>>,
{
    tokio::select! {
        served = server => served?,
        _ = async { shutdown.wait().await; tokio::time::sleep(deadline).await } => {
            tracing::warn!(service = name, ?deadline, "drain deadline passed; closing the remaining calls");
        }
    }
    tracing::info!(service = name, "stopped");
    Ok(())
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
}
