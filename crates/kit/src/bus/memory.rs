//! The embedded bus: a broadcast channel inside the process.

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{BusError, BusMessage, Publisher};

#[derive(Clone)]
pub struct InProcessBus {
    sender: broadcast::Sender<BusMessage>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl InProcessBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
        }
    }

    /// Every message published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.sender.subscribe()
    }
}

#[async_trait]
impl Publisher for InProcessBus {
    async fn publish(&self, message: &BusMessage) -> Result<(), BusError> {
        // No subscriber is not an error: the outbox keeps the event either way.
        let _ = self.sender.send(message.clone());
        Ok(())
    }
}
