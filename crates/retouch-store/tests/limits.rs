//! Rate limiter behaviour on a real Redis (when `RETOUCH_TEST_REDIS_URL` is set; `scripts/test.sh`
//! starts one) and the in-process backend's contract through the public API.
//!
//! To run the Redis half by hand:
//!
//! ```sh
//! redis-server --save '' --appendonly no --port 56379 --bind 127.0.0.1 --daemonize yes
//! RETOUCH_TEST_REDIS_URL=redis://127.0.0.1:56379 cargo test -p retouch-store --test limits
//! redis-cli -p 56379 shutdown nosave
//! ```
//!
//! Every test uses buckets under a random name, so runs against one server never collide.

use std::time::Duration;

use retouch_store::limits::KEY_PREFIX;
use retouch_store::{RateLimiter, StoreError};

const MINUTE: Duration = Duration::from_secs(60);

fn redis_url() -> Option<String> {
    match std::env::var("RETOUCH_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        Ok(_) | Err(_) => {
            eprintln!("RETOUCH_TEST_REDIS_URL is not set: skipping the Redis limiter test");
            None
        }
    }
}

fn unique(name: &str) -> String {
    format!("test:{name}:{}", rand::random::<u64>())
}

#[tokio::test]
async fn in_process_allows_the_limit_then_denies_with_retry_after() {
    let limiter = RateLimiter::in_process();
    let bucket = unique("mem");
    for remaining in (0..4).rev() {
        let decision = limiter.check(&bucket, 1, 4, MINUTE).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, remaining);
        assert_eq!(decision.limit, 4);
    }
    let denied = limiter.check(&bucket, 1, 4, MINUTE).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    let retry = denied.retry_after;
    assert!(
        retry > Duration::from_secs(14) && retry <= Duration::from_secs(15),
        "one request comes back every 15 s, got {retry:?}"
    );
    assert!(denied.reset_after > Duration::from_secs(59) && denied.reset_after <= MINUTE);
}

#[tokio::test]
async fn redis_limits_allow_deny_and_expire() {
    let Some(url) = redis_url() else { return };
    let limiter = RateLimiter::connect_redis(&url, None).await.unwrap();
    assert_eq!(limiter.backend(), "redis");
    let bucket = unique("basic");
    for remaining in (0..3).rev() {
        let decision = limiter.check(&bucket, 1, 3, MINUTE).await.unwrap();
        assert!(decision.allowed, "request {} of 3", 3 - remaining);
        assert_eq!(decision.remaining, remaining);
    }
    let denied = limiter.check(&bucket, 1, 3, MINUTE).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    assert!(
        denied.retry_after > Duration::from_secs(19)
            && denied.retry_after <= Duration::from_secs(20),
        "{:?}",
        denied.retry_after
    );

    // The key is namespaced and expires when the bucket would be full again.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{KEY_PREFIX}{bucket}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 59_000 && ttl <= 60_001, "PTTL {ttl}");

    // A short window refills for real.
    let short = unique("short");
    let window = Duration::from_millis(300);
    assert!(limiter.check(&short, 2, 2, window).await.unwrap().allowed);
    assert!(!limiter.check(&short, 1, 2, window).await.unwrap().allowed);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let refilled = limiter.check(&short, 2, 2, window).await.unwrap();
    assert!(
        refilled.allowed,
        "the whole budget is back after the window"
    );
    // Expired keys are gone from Redis, not just ignored.
    tokio::time::sleep(Duration::from_millis(350)).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(format!("{KEY_PREFIX}{short}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn two_replicas_share_one_budget() {
    let Some(url) = redis_url() else { return };
    // Two independent connections, as two server processes would have.
    let one = RateLimiter::connect_redis(&url, None).await.unwrap();
    let two = RateLimiter::connect_redis(&url, None).await.unwrap();
    let bucket = unique("shared");
    let mut allowed = 0;
    for i in 0..20 {
        let limiter = if i % 2 == 0 { &one } else { &two };
        if limiter.check(&bucket, 1, 10, MINUTE).await.unwrap().allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10, "the budget of 10 is spent once across both");
    // Concurrent checks from both replicas never overspend (the script is atomic).
    let bucket = unique("race");
    let checks = (0..50).map(|i| {
        let limiter = if i % 2 == 0 { one.clone() } else { two.clone() };
        let bucket = bucket.clone();
        tokio::spawn(async move { limiter.check(&bucket, 1, 25, MINUTE).await.unwrap() })
    });
    let mut granted = 0;
    for check in checks {
        if check.await.unwrap().allowed {
            granted += 1;
        }
    }
    assert_eq!(granted, 25);
}

#[tokio::test]
async fn a_bad_url_or_an_unreachable_server_fails_at_connect() {
    let error = RateLimiter::connect_redis("http://127.0.0.1:1", None)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Redis(_)), "{error}");
    // A port nothing listens on; the password must not appear in the message.
    let port = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    let url = format!("redis://:hunter2secret@127.0.0.1:{port}");
    let error = RateLimiter::connect_redis(&url, None).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("hunter2secret"), "{message}");
}

/// The TLS endpoint of the test Redis and the CA that signed its certificate
/// (`RETOUCH_TEST_REDISS_URL`, `RETOUCH_TEST_REDIS_CA`; `scripts/test.sh` sets both).
fn rediss() -> Option<(String, String)> {
    let (Ok(url), Ok(ca)) = (
        std::env::var("RETOUCH_TEST_REDISS_URL"),
        std::env::var("RETOUCH_TEST_REDIS_CA"),
    ) else {
        eprintln!("RETOUCH_TEST_REDISS_URL / RETOUCH_TEST_REDIS_CA not set: skipping the TLS test");
        return None;
    };
    Some((url, ca))
}

#[tokio::test]
async fn rediss_connects_over_tls_to_a_server_its_ca_signed_and_only_then() {
    let Some((url, ca)) = rediss() else { return };
    let ca = std::fs::read(ca).unwrap();
    // Trusting the private CA: a working limiter whose budget is the plain endpoint's too.
    let tls = RateLimiter::connect_redis(&url, Some(&ca)).await.unwrap();
    let bucket = unique("tls");
    for remaining in (0..3).rev() {
        let decision = tls.check(&bucket, 1, 3, MINUTE).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, remaining);
    }
    assert!(!tls.check(&bucket, 1, 3, MINUTE).await.unwrap().allowed);
    if let Some(plain) = redis_url() {
        let plain = RateLimiter::connect_redis(&plain, None).await.unwrap();
        assert!(!plain.check(&bucket, 1, 3, MINUTE).await.unwrap().allowed);
    }
    // The system trust store does not know that CA: the handshake fails at connect.
    let error = RateLimiter::connect_redis(&url, None).await.unwrap_err();
    assert!(matches!(error, StoreError::Redis(_)), "{error}");
    // A CA with a plain URL is a configuration mistake, said as such.
    let plain = url.replacen("rediss://", "redis://", 1);
    let error = RateLimiter::connect_redis(&plain, Some(&ca))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("rediss://"), "{error}");
}
