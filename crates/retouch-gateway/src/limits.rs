//! Per-provider concurrency caps: `max_concurrency = N` on a `[providers.<name>]` entry bounds
//! the upstream calls this replica has open to that provider at once, across all requests.
//!
//! A cap is one [`tokio::sync::Semaphore`] shared by every clone of the entry. Each upstream
//! call holds one permit for as long as it runs: a call of a fanned-out request (Stability,
//! A1111, Gemini and IOPaint make one call per image) takes its own, and an OpenAI-family call
//! holds its permit until its SSE stream ends. Waiting for a permit is part of the attempt: it
//! comes out of the attempt's deadline, and a wait that outlasts it is the same 504 a slow
//! upstream gets. Permits are fair (first come, first served). The cap is per replica: N
//! replicas may have N × `max_concurrency` calls open.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;

use retouch_api::ApiError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// A cap on concurrent upstream calls to one configured provider. Cheap to clone; clones share
/// the cap.
#[derive(Clone)]
pub struct ConcurrencyCap {
    permits: Arc<Semaphore>,
    max: NonZeroUsize,
}

impl ConcurrencyCap {
    /// A cap of `max` concurrent calls.
    pub fn new(max: NonZeroUsize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max.get())),
            max,
        }
    }

    /// The configured maximum.
    pub fn max(&self) -> usize {
        self.max.get()
    }

    /// Calls running now.
    pub fn in_use(&self) -> usize {
        self.max
            .get()
            .saturating_sub(self.permits.available_permits())
    }

    /// Waits for a free slot until `deadline`; past it, the provider's 504.
    pub(crate) async fn acquire(
        &self,
        provider: &str,
        deadline: Instant,
    ) -> Result<OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout_at(deadline, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(ApiError::internal(
                "a provider's concurrency cap was closed",
            )),
            Err(_elapsed) => {
                tracing::debug!(
                    provider,
                    max_concurrency = self.max.get(),
                    "no free upstream slot before the attempt's deadline"
                );
                Err(ApiError::gateway_timeout(provider))
            }
        }
    }
}

impl fmt::Debug for ConcurrencyCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyCap")
            .field("max", &self.max)
            .field("in_use", &self.in_use())
            .finish()
    }
}

impl PartialEq for ConcurrencyCap {
    /// Two caps are equal when they are the same cap (shared permits), not merely the same size.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.permits, &other.permits)
    }
}

impl Eq for ConcurrencyCap {}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cap(n: usize) -> ConcurrencyCap {
        ConcurrencyCap::new(NonZeroUsize::new(n).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn permits_are_bounded_and_come_back_when_dropped() {
        let cap = cap(2);
        let far = Instant::now() + Duration::from_secs(60);
        let one = cap.acquire("stabilityai", far).await.unwrap();
        let _two = cap.acquire("stabilityai", far).await.unwrap();
        assert_eq!(cap.in_use(), 2);
        let soon = Instant::now() + Duration::from_millis(50);
        let error = cap.acquire("stabilityai", soon).await.unwrap_err();
        assert_eq!(error.status, 504);
        assert_eq!(error.provider.as_deref(), Some("stabilityai"));
        drop(one);
        assert_eq!(cap.in_use(), 1);
        let _again = cap
            .acquire("stabilityai", soon + Duration::from_secs(1))
            .await
            .unwrap();
    }

    #[test]
    fn clones_share_the_cap() {
        let a = cap(3);
        let b = a.clone();
        assert_eq!(a, b);
        assert_ne!(a, cap(3));
    }
}
