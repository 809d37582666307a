//! Per-caller request rate limits on `/v1/images/edits`, answered the way OpenAI answers them.
//!
//! The caller is the gateway key that authenticated the request (its id, from auth's
//! [`Caller`]), else the client's address (the TCP peer; `X-Forwarded-For` is not trusted,
//! since any client can write it — behind a proxy, give callers gateway keys). Each caller has
//! `requests_per_minute` requests, spent by GCRA in [`RateLimiter`] (in process, or in Redis so
//! replicas share one budget): a full budget allows a burst of the whole limit, and requests
//! then come back one every `60 s / limit`, with no double burst at a window boundary.
//!
//! Every response on the route carries OpenAI's `x-ratelimit-limit-requests`,
//! `x-ratelimit-remaining-requests` and `x-ratelimit-reset-requests` (a Go-style duration such
//! as `1s`, `6m0s` or `120ms`). Past the limit the answer is 429 with OpenAI's body
//! (`type: requests`, `code: rate_limit_exceeded`, "Rate limit reached for … on requests per min
//! (RPM): Limit N, Used N, Requested 1. Please try again in …") and `retry-after` /
//! `retry-after-ms`, before the body is read.
//!
//! `images_per_minute` (charging `n` per request) is not offered: `n` lives in the multipart
//! body, which this layer deliberately does not read, so a refused request costs no upload.
//!
//! **If the limiter's backend fails (Redis unreachable), requests are served unlimited**: the
//! limits protect capacity and fairness, not security, so availability wins. One warning is
//! logged per [`WARN_EVERY`] while it lasts, not one per request.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use http::{HeaderMap, HeaderValue};
use retouch_api::ApiError;
use retouch_store::{Decision, RateLimiter, StoreError};

use crate::auth::Caller;
use crate::error::ErrorResponse;
use crate::state::AppState;

/// The window `requests_per_minute` is counted over.
const MINUTE: Duration = Duration::from_secs(60);

/// At most one "limiter unavailable" warning per this period.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Rate limits the server enforces. The default enforces none.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Requests each caller may make to `/v1/images/edits` per minute; `None` for no limit.
    pub requests_per_minute: Option<u32>,
    /// Where budgets live: in process (one replica) or in Redis (shared by replicas).
    pub limiter: RateLimiter,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            requests_per_minute: None,
            limiter: RateLimiter::in_process(),
        }
    }
}

impl RateLimits {
    /// Whether any limit is set.
    pub fn is_enabled(&self) -> bool {
        self.requests_per_minute.is_some()
    }
}

/// The limits with the state the middleware keeps (the warning throttle). One per server.
#[derive(Debug)]
pub(crate) struct RateLimitState {
    limits: RateLimits,
    last_warning: Mutex<Option<Instant>>,
}

impl RateLimitState {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            last_warning: Mutex::new(None),
        }
    }

    /// Logs the backend failure unless one was logged within [`WARN_EVERY`].
    fn warn_unavailable(&self, error: &StoreError) {
        let now = Instant::now();
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|at| now.duration_since(at) < WARN_EVERY) {
            return;
        }
        *last = Some(now);
        tracing::warn!(
            backend = self.limits.limiter.backend(),
            %error,
            "rate limiter unavailable; serving requests without limits (next warning in at most 60 s)"
        );
    }
}

/// The middleware: spends one request from the caller's budget or answers 429.
pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(limits) = state.rate_limits() else {
        return next.run(request).await;
    };
    let Some(per_minute) = limits.limits.requests_per_minute else {
        return next.run(request).await;
    };
    let caller = bucket(&request);
    match limits
        .limits
        .limiter
        .check(&caller, 1, per_minute, MINUTE)
        .await
    {
        Ok(decision) if decision.allowed => {
            let mut response = next.run(request).await;
            stamp(response.headers_mut(), &decision);
            response
        }
        Ok(decision) => {
            let mut response = ErrorResponse(refusal(&decision)).into_response();
            stamp(response.headers_mut(), &decision);
            response
        }
        Err(error) => {
            limits.warn_unavailable(&error);
            next.run(request).await
        }
    }
}

/// The bucket a request spends from: `key:<gateway key id>`, else `ip:<peer address>`.
/// Never derived from a secret (the key id is not the key).
fn bucket(request: &Request) -> String {
    if let Some(id) = request
        .extensions()
        .get::<Caller>()
        .and_then(|caller| caller.key_id.as_deref())
    {
        return format!("key:{id}");
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => format!("ip:{}", peer.ip()),
        // Only in-process callers (tests) have no peer; they share one budget.
        None => "ip:unknown".to_owned(),
    }
}

/// OpenAI's 429 for a request-rate limit.
fn refusal(decision: &Decision) -> ApiError {
    let wait = ceil_millis(decision.retry_after);
    ApiError::rate_limited(
        format!(
            "Rate limit reached for image edits on requests per min (RPM): Limit {limit}, Used {used}, Requested 1. Please try again in {wait}. Visit https://platform.openai.com/account/rate-limits to learn more.",
            limit = decision.limit,
            used = decision.limit.saturating_sub(decision.remaining),
            wait = go_duration(wait),
        ),
        Some(wait),
    )
}

/// OpenAI's `x-ratelimit-*-requests` headers.
fn stamp(headers: &mut HeaderMap, decision: &Decision) {
    headers.insert(
        "x-ratelimit-limit-requests",
        HeaderValue::from(decision.limit),
    );
    headers.insert(
        "x-ratelimit-remaining-requests",
        HeaderValue::from(decision.remaining),
    );
    if let Ok(reset) = HeaderValue::from_str(&go_duration(ceil_millis(decision.reset_after))) {
        headers.insert("x-ratelimit-reset-requests", reset);
    }
}

/// Rounds up to whole milliseconds, so a client that waits the advertised time is not early.
fn ceil_millis(duration: Duration) -> Duration {
    let millis = duration.as_micros().div_ceil(1000);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

/// A duration as Go's `time.Duration.String()` writes it (OpenAI's header format), to the
/// millisecond: `0s`, `120ms`, `1s`, `20.5s`, `6m0s`, `1h0m0s`.
fn go_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let hours = millis / 3_600_000;
    let minutes = millis / 60_000 % 60;
    let seconds = millis / 1000 % 60;
    let fraction = millis % 1000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    out.push_str(&seconds.to_string());
    if fraction > 0 {
        let digits = format!("{fraction:03}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('s');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_as_go_does() {
        let cases = [
            (0, "0s"),
            (12, "12ms"),
            (999, "999ms"),
            (1_000, "1s"),
            (20_500, "20.5s"),
            (17_280, "17.28s"),
            (60_000, "1m0s"),
            (360_000, "6m0s"),
            (172_800, "2m52.8s"),
            (3_600_000, "1h0m0s"),
            (3_723_004, "1h2m3.004s"),
        ];
        for (millis, expected) in cases {
            assert_eq!(go_duration(Duration::from_millis(millis)), expected);
        }
    }

    #[test]
    fn waits_round_up_to_the_millisecond() {
        assert_eq!(
            ceil_millis(Duration::from_micros(1_001)),
            Duration::from_millis(2)
        );
        assert_eq!(
            ceil_millis(Duration::from_millis(7)),
            Duration::from_millis(7)
        );
    }

    #[test]
    fn the_refusal_is_openais_429() {
        let decision = Decision {
            allowed: false,
            limit: 3,
            remaining: 0,
            reset_after: Duration::from_secs(60),
            retry_after: Duration::from_micros(19_999_500),
        };
        let error = refusal(&decision);
        assert_eq!(error.status, 429);
        let body: serde_json::Value = serde_json::from_slice(&error.to_json()).unwrap();
        assert_eq!(body["error"]["type"], "requests");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Rate limit reached for image edits on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s."),
            "{message}"
        );
    }
}
