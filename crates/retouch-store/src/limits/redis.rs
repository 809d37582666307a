//! The Redis backend: the same GCRA as in process, run atomically inside Redis by one Lua
//! script, so every replica pointed at the same server spends from one budget.
//!
//! One check is one round trip (`EVALSHA`; the script is loaded once, and again after a Redis
//! restart when the server answers `NOSCRIPT`). The script reads the clock with Redis `TIME`,
//! not the replica's, so replicas whose clocks disagree still agree on every bucket. Keys are
//! `retouch:rl:<bucket>` and expire (`PX`) when the bucket would be full again, so idle
//! callers cost Redis nothing.
//!
//! The connection is a [`ConnectionManager`] (reconnects by itself). Calls are bounded: a
//! connect or response slower than [`TIMEOUT`] fails, and after a failure the limiter does not
//! touch the network for [`BACKOFF`], answering an error at once, so a Redis outage adds at
//! most one timeout per back-off period to request latency. What the caller does with the error
//! (the server fails open) is its choice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use super::{Decision, gcra};
use crate::StoreError;

/// Prefix of every key the limiter writes.
pub const KEY_PREFIX: &str = "retouch:rl:";

/// Longest wait for a connection or an answer.
const TIMEOUT: Duration = Duration::from_millis(500);

/// How long the limiter stays off the network after a failure.
const BACKOFF: Duration = Duration::from_secs(1);

/// GCRA over one key. ARGV: emission interval (µs), window (µs), cost, limit.
/// Returns {allowed, remaining, reset_after µs, retry_after µs}; see `super::gcra`, which this
/// mirrors line for line.
const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
local base = math.max(tat, now)
local new_tat = base + cost * interval
local allow_at = new_tat - window
local function remaining(at)
  local left = math.floor((window - (at - now)) / interval)
  if left < 0 then left = 0 end
  if left > limit then left = limit end
  return left
end
if allow_at > now then
  return {0, remaining(base), base - now, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, remaining(new_tat), new_tat - now, 0}
";

/// GCRA buckets in Redis. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RedisLimiter {
    connection: ConnectionManager,
    script: Arc<Script>,
    /// Where the URL points, without credentials (for logs).
    endpoint: Arc<str>,
    breaker: Arc<Breaker>,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Remembers the last failure so an outage is not paid for on every request.
#[derive(Debug)]
struct Breaker {
    epoch: Instant,
    /// µs after `epoch` before which the network is not tried; 0 when closed.
    open_until: AtomicU64,
}

impl Breaker {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn is_open(&self) -> bool {
        self.now() < self.open_until.load(Ordering::Relaxed)
    }

    fn trip(&self) {
        let until = self
            .now()
            .saturating_add(u64::try_from(BACKOFF.as_micros()).unwrap_or(u64::MAX));
        self.open_until.store(until, Ordering::Relaxed);
    }
}

impl RedisLimiter {
    /// Connects to `url` and checks it answers `PING`. The error names the host, never the
    /// password.
    ///
    /// `rediss://` connects over TLS (rustls), verifying the server against the system's
    /// trust store, or against `ca_pem` (PEM certificates) when given, for a server whose
    /// certificate a private CA signed.
    pub async fn connect(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, StoreError> {
        let invalid = |e: redis::RedisError| {
            StoreError::Redis(format!(
                "invalid Redis URL (expected redis://[user:password@]host[:port][/db], or \
                 rediss://… for TLS): {}",
                e.category()
            ))
        };
        let client = match ca_pem {
            None => Client::open(url).map_err(invalid)?,
            Some(pem) => {
                if !url.starts_with("rediss://") {
                    return Err(StoreError::Redis(
                        "a Redis CA certificate applies only to a rediss:// (TLS) URL".into(),
                    ));
                }
                let certs = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.to_vec()),
                };
                Client::build_with_tls(url, certs).map_err(invalid)?
            }
        };
        let info = client.get_connection_info();
        let endpoint: Arc<str> = Arc::from(info.addr().to_string());
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let unreachable =
            |e: redis::RedisError| StoreError::Redis(format!("{endpoint}: {}", describe(&e)));
        let mut connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(unreachable)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(unreachable)?;
        Ok(Self {
            connection,
            script: Arc::new(Script::new(GCRA_LUA)),
            endpoint: Arc::clone(&endpoint),
            breaker: Arc::new(Breaker {
                epoch: Instant::now(),
                open_until: AtomicU64::new(0),
            }),
        })
    }

    /// Where the limiter connects (`host:port`), for logs.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// See [`super::RateLimiter::check`].
    pub async fn check(
        &self,
        bucket: &str,
        cost: u32,
        limit: u32,
        window: Duration,
    ) -> Result<Decision, StoreError> {
        if limit == 0 || cost > limit {
            // Denied whatever the bucket holds; no need to ask Redis.
            return Ok(gcra(0, 0, cost, limit, window).0);
        }
        if self.breaker.is_open() {
            return Err(StoreError::Redis(format!(
                "{}: unavailable (last call failed less than {}s ago)",
                self.endpoint,
                BACKOFF.as_secs()
            )));
        }
        let window_us = u64::try_from(window.as_micros()).unwrap_or(u64::MAX).max(1);
        let interval = (window_us / u64::from(limit)).max(1);
        let mut connection = self.connection.clone();
        let answer: Result<(i64, i64, i64, i64), _> = self
            .script
            .key(format!("{KEY_PREFIX}{bucket}"))
            .arg(interval)
            .arg(window_us)
            .arg(cost)
            .arg(limit)
            .invoke_async(&mut connection)
            .await;
        let (allowed, remaining, reset_us, retry_us) = answer.map_err(|e| {
            self.breaker.trip();
            StoreError::Redis(format!("{}: {}", self.endpoint, describe(&e)))
        })?;
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            limit,
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset_after: micros(reset_us),
            retry_after: micros(retry_us),
        })
    }
}

/// A Redis error's text. `RedisError`'s `Display` names the failing command and the server's
/// message, never the URL or its password.
fn describe(error: &redis::RedisError) -> String {
    error.to_string()
}
