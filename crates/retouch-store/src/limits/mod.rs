//! Shared rate limits: [`RateLimiter`] answers "may this caller spend `cost` more units of
//! `limit` per `window` now?", in process by default and in Redis when replicas must share one
//! budget.
//!
//! # Algorithm: GCRA
//!
//! Both backends run the generic cell rate algorithm (the "virtual scheduling" form of a leaky
//! bucket). A bucket is one timestamp, its *theoretical arrival time* (TAT): the moment the
//! bucket will be empty again if nothing more arrives. Each unit costs an emission interval
//! `T = window / limit`; a request of `cost` units is allowed when
//! `max(TAT, now) + cost·T − window ≤ now`, and then moves TAT there.
//!
//! Why GCRA rather than a window counter: a fixed window lets a caller spend its whole budget
//! at the end of one window and again at the start of the next (twice the limit in an instant);
//! a sliding-window counter fixes that only approximately and keeps two counters. GCRA enforces
//! the rate exactly with a burst of at most `limit`, stores one number per bucket, needs no
//! background refill, and its Redis form is a single `GET`/`SET` of one key inside one script.
//! A bucket whose TAT has passed is the same as no bucket at all, which is what makes eviction
//! (in process) and key expiry (in Redis) free of any effect on decisions.
//!
//! Bucket names are chosen by the caller (the server uses gateway key ids or client addresses);
//! they must never contain secrets, since Redis stores them in clear as part of the key.

mod memory;
mod redis;

use std::time::Duration;

pub use memory::{DEFAULT_MAX_BUCKETS, MemoryLimiter};
pub use redis::{KEY_PREFIX, RedisLimiter};

use crate::StoreError;

/// The outcome of one [`RateLimiter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go ahead (its cost has then been spent).
    pub allowed: bool,
    /// The limit the check was made against (units per window).
    pub limit: u32,
    /// Units that could still be spent right now, after this request.
    pub remaining: u32,
    /// Time until the bucket is back to its full `limit` if nothing more is spent.
    pub reset_after: Duration,
    /// When denied, the wait until this same request would be allowed; zero when allowed.
    pub retry_after: Duration,
}

/// A rate limiter, in process or shared through Redis. Cheap to clone; clones share buckets.
#[derive(Debug, Clone)]
pub enum RateLimiter {
    /// Buckets in this process's memory, bounded in number.
    InProcess(MemoryLimiter),
    /// Buckets in Redis, shared by every replica that points at the same server.
    Redis(RedisLimiter),
}

impl RateLimiter {
    /// An in-process limiter holding at most [`DEFAULT_MAX_BUCKETS`] buckets.
    pub fn in_process() -> Self {
        Self::InProcess(MemoryLimiter::new(DEFAULT_MAX_BUCKETS))
    }

    /// A Redis-backed limiter for `url` (`redis://[user:password@]host:port[/db]`, or
    /// `rediss://…` over TLS), checked with a `PING` before it is returned so a wrong URL fails
    /// at start-up. `ca_pem`: PEM certificates to trust for a `rediss://` server instead of the
    /// system's trust store.
    pub async fn connect_redis(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, StoreError> {
        RedisLimiter::connect(url, ca_pem).await.map(Self::Redis)
    }

    /// Spends `cost` units of `limit` per `window` from `bucket`, if they are available.
    ///
    /// A `cost` above `limit` can never be allowed; it is denied with a `retry_after` of one
    /// whole window. A `limit` of 0 denies everything.
    pub async fn check(
        &self,
        bucket: &str,
        cost: u32,
        limit: u32,
        window: Duration,
    ) -> Result<Decision, StoreError> {
        match self {
            Self::InProcess(memory) => Ok(memory.check(bucket, cost, limit, window)),
            Self::Redis(redis) => redis.check(bucket, cost, limit, window).await,
        }
    }

    /// Which backend this is, for logs and start-up messages.
    pub fn backend(&self) -> &'static str {
        match self {
            Self::InProcess(_) => "in-process",
            Self::Redis(_) => "redis",
        }
    }
}

/// GCRA arithmetic shared by both backends, in whole microseconds.
///
/// `tat` and `now` are on the same clock. Returns the decision and, when allowed, the new TAT.
pub(crate) fn gcra(
    now: u64,
    tat: u64,
    cost: u32,
    limit: u32,
    window: Duration,
) -> (Decision, Option<u64>) {
    let window_us = u64::try_from(window.as_micros()).unwrap_or(u64::MAX).max(1);
    if limit == 0 {
        let decision = Decision {
            allowed: false,
            limit,
            remaining: 0,
            reset_after: Duration::ZERO,
            retry_after: window,
        };
        return (decision, None);
    }
    let interval = (window_us / u64::from(limit)).max(1);
    let base = tat.max(now);
    let new_tat = base.saturating_add(interval.saturating_mul(u64::from(cost)));
    let allow_at = new_tat.saturating_sub(window_us);
    let remaining_at = |tat: u64| {
        let used = tat.saturating_sub(now);
        u32::try_from(window_us.saturating_sub(used) / interval)
            .unwrap_or(u32::MAX)
            .min(limit)
    };
    if allow_at > now {
        let retry = if cost > limit {
            // Never allowed: no wait is right, so name the window rather than zero.
            window_us
        } else {
            allow_at - now
        };
        let decision = Decision {
            allowed: false,
            limit,
            remaining: remaining_at(base),
            reset_after: Duration::from_micros(base - now),
            retry_after: Duration::from_micros(retry),
        };
        return (decision, None);
    }
    let decision = Decision {
        allowed: true,
        limit,
        remaining: remaining_at(new_tat),
        reset_after: Duration::from_micros(new_tat - now),
        retry_after: Duration::ZERO,
    };
    (decision, Some(new_tat))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_fresh_bucket_allows_a_burst_of_limit_then_denies() {
        let mut tat = 0;
        let now = 1_000_000_000;
        for expected_remaining in (0..5).rev() {
            let (decision, new_tat) = gcra(now, tat, 1, 5, MINUTE);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
            tat = new_tat.unwrap();
        }
        let (denied, none) = gcra(now, tat, 1, 5, MINUTE);
        assert!(!denied.allowed);
        assert!(none.is_none());
        assert_eq!(denied.remaining, 0);
        // One unit comes back every 12 s; the bucket is full after 60 s.
        assert_eq!(denied.retry_after, Duration::from_secs(12));
        assert_eq!(denied.reset_after, MINUTE);
    }

    #[test]
    fn units_come_back_at_the_steady_rate() {
        let now = 1_000_000_000;
        let (_, tat) = gcra(now, 0, 5, 5, MINUTE);
        let tat = tat.unwrap();
        let later = now + 12_000_000;
        let (decision, _) = gcra(later, tat, 1, 5, MINUTE);
        assert!(decision.allowed, "one unit is back after 12 s");
        assert_eq!(decision.remaining, 0);
        let (decision, _) = gcra(later - 1, tat, 1, 5, MINUTE);
        assert!(!decision.allowed, "not a microsecond earlier");
    }

    #[test]
    fn no_double_burst_across_a_boundary() {
        // Spend everything, wait half a window: only half the budget is back (a fixed window
        // would have handed out all of it again at its boundary).
        let now = 1_000_000_000;
        let (_, tat) = gcra(now, 0, 10, 10, MINUTE);
        let half = now + 30_000_000;
        let (decision, _) = gcra(half, tat.unwrap(), 1, 10, MINUTE);
        assert_eq!(decision.remaining, 4, "5 units back, 1 spent");
        let (decision, _) = gcra(half, tat.unwrap(), 6, 10, MINUTE);
        assert!(!decision.allowed);
    }

    #[test]
    fn cost_above_limit_and_zero_limit_are_denied() {
        let (decision, tat) = gcra(1_000, 0, 6, 5, MINUTE);
        assert!(!decision.allowed);
        assert!(tat.is_none());
        assert_eq!(decision.remaining, 5);
        assert_eq!(decision.retry_after, MINUTE);
        let (decision, _) = gcra(1_000, 0, 1, 0, MINUTE);
        assert!(!decision.allowed);
        assert_eq!(decision.retry_after, MINUTE);
    }
}
