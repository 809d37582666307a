//! Shutdown coordination between the listener and the handlers.
//!
//! Two moments matter: `begin` (stop accepting; in-flight requests keep running) and
//! `deadline` (the drain is over; requests still running answer 503 so the client knows to
//! retry elsewhere, instead of seeing a dropped connection).

use tokio_util::sync::CancellationToken;

/// Signals shared by the server loop and the handlers. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    begun: CancellationToken,
    deadline: CancellationToken,
}

impl Shutdown {
    /// A fresh, untriggered pair of signals.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop accepting new connections and let in-flight requests finish.
    pub fn begin(&self) {
        self.begun.cancel();
    }

    /// The drain is over: running requests give up with 503.
    pub fn expire(&self) {
        self.begun.cancel();
        self.deadline.cancel();
    }

    /// Resolves when shutdown has begun.
    pub async fn begun(&self) {
        self.begun.cancelled().await;
    }

    /// Whether shutdown has begun.
    pub fn has_begun(&self) -> bool {
        self.begun.is_cancelled()
    }

    /// Resolves when the drain deadline has passed.
    pub async fn expired(&self) {
        self.deadline.cancelled().await;
    }
}
