//! The in-process backend: GCRA buckets in a bounded map guarded by one short-held mutex.
//!
//! Memory stays bounded whatever callers send: a bucket whose TAT has passed is full, which is
//! the same as absent, so expired buckets are dropped by a sweep (at most once per
//! [`SWEEP_EVERY`], and whenever the map is full). If the map is still full of live buckets
//! after a sweep (a flood of distinct callers, each mid-budget), the eighth of them nearest to
//! full is forgotten at once: those callers get a fresh budget a little early, which errs on
//! the side of serving rather than refusing, and costs one pass per `max/8` new buckets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{Decision, gcra};

/// Buckets kept by [`super::RateLimiter::in_process`]: about 10 MB at worst.
pub const DEFAULT_MAX_BUCKETS: usize = 100_000;

/// How often expired buckets are swept even when the map is not full.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// GCRA buckets in this process. Cheap to clone; clones share buckets.
#[derive(Debug, Clone)]
pub struct MemoryLimiter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The clock's zero; TATs are microseconds after it.
    epoch: Instant,
    max_buckets: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Bucket name → theoretical arrival time (µs after `epoch`).
    buckets: HashMap<String, u64>,
    /// When the last sweep ran (µs after `epoch`).
    last_sweep: u64,
}

impl MemoryLimiter {
    /// A limiter that holds at most `max_buckets` buckets (at least 8).
    pub fn new(max_buckets: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                epoch: Instant::now(),
                max_buckets: max_buckets.max(8),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Buckets currently held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.lock().buckets.len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// See [`super::RateLimiter::check`].
    pub fn check(&self, bucket: &str, cost: u32, limit: u32, window: Duration) -> Decision {
        let now = u64::try_from(self.inner.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut state = self.lock();
        if now.saturating_sub(state.last_sweep) >= micros(SWEEP_EVERY) {
            state.sweep(now);
        }
        let tat = state.buckets.get(bucket).copied().unwrap_or(0);
        let (decision, new_tat) = gcra(now, tat, cost, limit, window);
        if let Some(new_tat) = new_tat {
            match state.buckets.get_mut(bucket) {
                Some(slot) => *slot = new_tat,
                None => {
                    if state.buckets.len() >= self.inner.max_buckets {
                        state.make_room(now, self.inner.max_buckets);
                    }
                    state.buckets.insert(bucket.to_owned(), new_tat);
                }
            }
        }
        decision
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The map is consistent after every statement, so a panic elsewhere cannot leave it
        // half-written; keep serving.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn sweep(&mut self, now: u64) {
        self.buckets.retain(|_, tat| *tat > now);
        self.last_sweep = now;
    }

    /// Brings the map below `max`: expired buckets first, then the live ones nearest to full.
    fn make_room(&mut self, now: u64, max: usize) {
        self.sweep(now);
        if self.buckets.len() < max {
            return;
        }
        let mut tats: Vec<u64> = self.buckets.values().copied().collect();
        let cut = (max / 8).max(1).min(tats.len() - 1);
        let (_, threshold, _) = tats.select_nth_unstable(cut);
        let threshold = *threshold;
        let mut dropped = 0;
        // Ties at the threshold are dropped too only while under the quota, so the cut is exact.
        self.buckets.retain(|_, tat| {
            if *tat < threshold || (*tat == threshold && dropped < cut) {
                dropped += 1;
                false
            } else {
                true
            }
        });
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test(start_paused = true)]
    async fn allows_limit_then_denies_then_recovers() {
        let limiter = MemoryLimiter::new(16);
        for remaining in (0..3).rev() {
            let decision = limiter.check("key:a", 1, 3, MINUTE);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, remaining);
        }
        let denied = limiter.check("key:a", 1, 3, MINUTE);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after, Duration::from_secs(20));
        assert_eq!(denied.reset_after, MINUTE);

        tokio::time::advance(Duration::from_secs(20)).await;
        let decision = limiter.check("key:a", 1, 3, MINUTE);
        assert!(decision.allowed, "one request is back after 20 s");
        assert_eq!(decision.remaining, 0);

        tokio::time::advance(MINUTE).await;
        let decision = limiter.check("key:a", 1, 3, MINUTE);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 2, "full again after a quiet window");
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_are_separate() {
        let limiter = MemoryLimiter::new(16);
        assert!(limiter.check("ip:1", 1, 1, MINUTE).allowed);
        assert!(!limiter.check("ip:1", 1, 1, MINUTE).allowed);
        assert!(limiter.check("ip:2", 1, 1, MINUTE).allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn denied_requests_spend_nothing() {
        let limiter = MemoryLimiter::new(16);
        assert!(limiter.check("b", 2, 3, MINUTE).allowed);
        assert!(!limiter.check("b", 2, 3, MINUTE).allowed);
        let last = limiter.check("b", 1, 3, MINUTE);
        assert!(last.allowed, "the denied 2 were not charged");
        assert_eq!(last.remaining, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_distinct_buckets_stays_bounded() {
        let limiter = MemoryLimiter::new(64);
        for i in 0..10_000 {
            assert!(limiter.check(&format!("ip:{i}"), 1, 10, MINUTE).allowed);
            assert!(limiter.len() <= 64, "{} buckets after {i}", limiter.len());
        }
        // The most recent callers keep their state.
        let recent = limiter.check("ip:9999", 9, 10, MINUTE);
        assert!(recent.allowed);
        assert!(!limiter.check("ip:9999", 1, 10, MINUTE).allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_buckets_are_swept() {
        let limiter = MemoryLimiter::new(1_000);
        for i in 0..500 {
            limiter.check(&format!("ip:{i}"), 1, 10, Duration::from_secs(10));
        }
        assert_eq!(limiter.len(), 500);
        tokio::time::advance(SWEEP_EVERY).await;
        limiter.check("ip:new", 1, 10, Duration::from_secs(10));
        assert_eq!(limiter.len(), 1, "only the live bucket is left");
    }
}
