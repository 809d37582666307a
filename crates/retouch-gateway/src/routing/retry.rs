//! The one retry module: which failures are retried, and how long to wait before the next
//! attempt (exponential backoff with full jitter and a cap, or the upstream's `retry-after`
//! when the config asks for it).

use std::time::Duration;

use retouch_api::{ApiError, ErrorSource};

/// First backoff step; attempt `k` (0-based) waits a random time in `0..=min(CAP, BASE·2^k)`.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Longest backoff between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Longest `retry-after` honoured (Portkey's cap too); a longer one is clamped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A target's `retry` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = no retry).
    pub attempts: u32,
    /// Statuses that are retried.
    pub on_status_codes: Vec<u16>,
    /// Wait what the upstream's `retry-after` says (on a 429 or 503) instead of backing off.
    pub use_retry_after_header: bool,
}

impl RetryPolicy {
    /// Portkey's default retried statuses.
    pub const DEFAULT_STATUS_CODES: [u16; 5] = [429, 500, 502, 503, 504];

    /// Whether `error` should be retried under this policy (attempts aside). Client errors
    /// we raised ourselves (validation, config) are never retried: they would fail again.
    pub fn retries(&self, error: &ApiError) -> bool {
        if error.source == ErrorSource::Client && error.provider.is_none() {
            return false;
        }
        self.on_status_codes.contains(&routing_status(error))
    }

    /// How long to wait before retry number `retry` (0-based) after `error`.
    pub fn delay(&self, retry: u32, error: &ApiError) -> Duration {
        if let Some(after) = error.retry_after.filter(|_| self.use_retry_after_header) {
            return after.min(MAX_RETRY_AFTER);
        }
        backoff(retry, &mut rand::rng())
    }
}

/// Full-jitter exponential backoff: uniform in `0..=min(cap, base·2^retry)`.
pub(crate) fn backoff(retry: u32, rng: &mut impl rand::Rng) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(retry.min(16)))
        .min(BACKOFF_CAP);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rng.random_range(0..=millis))
}

/// The status a failure counts as for `on_status_codes` (retry and fallback).
///
/// Adapters answer an upstream 5xx as our 502 (the client sees a gateway error) and record the
/// upstream's own status in `upstream_status`; routing decides on that, as Portkey does.
/// Everything else counts as its own status (429 and other 4xx pass through unchanged;
/// timeouts are 504/408).
pub fn routing_status(error: &ApiError) -> u16 {
    error.upstream_status.unwrap_or(error.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_its_growing_ceiling_and_the_cap() {
        let mut rng = rand::rng();
        for retry in 0..20 {
            for _ in 0..50 {
                let d = backoff(retry, &mut rng);
                let ceiling = BACKOFF_BASE
                    .saturating_mul(2u32.saturating_pow(retry.min(16)))
                    .min(BACKOFF_CAP);
                assert!(d <= ceiling, "{d:?} > {ceiling:?}");
            }
        }
    }

    #[test]
    fn upstream_5xx_counts_as_its_own_status() {
        let e = ApiError::new(
            502,
            retouch_api::ErrorKind::Upstream,
            "The upstream provider 'openai' failed with HTTP 503.",
        )
        .with_code("upstream_error")
        .with_source(ErrorSource::Upstream)
        .with_provider("openai")
        .with_upstream_status(503);
        assert_eq!(routing_status(&e), 503);
        let policy = RetryPolicy {
            attempts: 1,
            on_status_codes: vec![429],
            use_retry_after_header: false,
        };
        assert!(!policy.retries(&e));
        assert_eq!(routing_status(&ApiError::gateway_timeout("openai")), 504);
    }

    #[test]
    fn retry_after_is_used_only_when_asked_and_clamped() {
        let e = ApiError::rate_limited("slow down", Some(Duration::from_secs(3600)));
        let mut policy = RetryPolicy {
            attempts: 1,
            on_status_codes: vec![429],
            use_retry_after_header: true,
        };
        assert_eq!(policy.delay(0, &e), MAX_RETRY_AFTER);
        policy.use_retry_after_header = false;
        assert!(policy.delay(0, &e) <= BACKOFF_BASE);
    }
}
