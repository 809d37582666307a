//! Per-caller rate limits on `/v1/images/edits`: OpenAI's 429 and `x-ratelimit-*` headers,
//! callers kept apart by client address (over real sockets from two loopback addresses) and by
//! gateway key, one budget shared by two app instances through Redis (when
//! `RETOUCH_TEST_REDIS_URL` is set), and requests served when the limiter's backend fails.
//!
//! The requests are cheap on purpose (an empty form, refused with 400 by the handler): the
//! limit counts requests whatever their outcome, as OpenAI's does.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use retouch_server::{Accounts, AppState, AuthOptions, RateLimits, ServeOptions, Shutdown};
use retouch_store::{MasterKey, RateLimiter, StateStore};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;

use crate::common::{self, BOUNDARY, Part, multipart};

async fn state(dir: &std::path::Path, limits: RateLimits) -> AppState {
    let (state, _shutdown, _engine) = common::state_in(dir, common::Options::default()).await;
    state.with_rate_limits(limits)
}

fn per_minute(n: u32, limiter: RateLimiter) -> RateLimits {
    RateLimits {
        requests_per_minute: Some(n),
        limiter,
    }
}

/// An edit the handler refuses at once (no image): cheap, and still a request.
fn cheap_edit(bearer: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/v1/images/edits").header(
        "content-type",
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    if let Some(key) = bearer {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    request
        .body(Body::from(multipart(&[Part::Text("prompt", "x")])))
        .unwrap()
}

fn header<'a>(response: &'a http::Response<Body>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn past_the_limit_requests_get_openais_429_with_rate_limit_headers() {
    let dir = tempfile::tempdir().unwrap();
    let app =
        retouch_server::app(state(dir.path(), per_minute(3, RateLimiter::in_process())).await);
    for remaining in ["2", "1", "0"] {
        let response = app.clone().oneshot(cheap_edit(None)).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "served");
        assert_eq!(header(&response, "x-ratelimit-limit-requests"), "3");
        assert_eq!(
            header(&response, "x-ratelimit-remaining-requests"),
            remaining
        );
        assert!(header(&response, "x-ratelimit-reset-requests").ends_with('s'));
    }
    let response = app.clone().oneshot(cheap_edit(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "x-ratelimit-limit-requests"), "3");
    assert_eq!(header(&response, "x-ratelimit-remaining-requests"), "0");
    // The bucket is full again a minute after the three requests (written as Go does).
    let reset = header(&response, "x-ratelimit-reset-requests");
    assert!(reset.starts_with("59.") || reset == "1m0s", "{reset}");
    // One request comes back every 20 s.
    let retry: u64 = header(&response, "retry-after").parse().unwrap();
    assert!((19..=20).contains(&retry), "retry-after {retry}");
    let retry_ms: u64 = header(&response, "retry-after-ms").parse().unwrap();
    assert!(
        (19_000..=20_000).contains(&retry_ms),
        "retry-after-ms {retry_ms}"
    );
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(header(&response, "content-type"), "application/json");
    let body: Value = serde_json::from_slice(&common::body_bytes(response).await).unwrap();
    assert_eq!(body["error"]["type"], "requests", "{body}");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
    assert!(body["error"]["param"].is_null(), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Rate limit reached for image edits on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in"
        ),
        "{message}"
    );

    // Other routes are not limited.
    let models = app
        .clone()
        .oneshot(Request::get("/v1/models").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(models.status(), StatusCode::OK);
    assert!(!models.headers().contains_key("x-ratelimit-limit-requests"));
}

#[tokio::test]
async fn without_a_limit_nothing_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let app = retouch_server::app(state(dir.path(), RateLimits::default()).await);
    for _ in 0..20 {
        let response = app.clone().oneshot(cheap_edit(None)).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(
            !response
                .headers()
                .contains_key("x-ratelimit-limit-requests")
        );
    }
}

/// The app on the production listener (which supplies the peer address), on 127.0.0.1:0.
async fn listen(state: AppState) -> (SocketAddr, Shutdown) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let app = retouch_server::app(state);
    let serving = shutdown.clone();
    tokio::spawn(async move {
        retouch_server::serve(
            listener,
            app,
            serving,
            ServeOptions::default(),
            std::future::pending(),
        )
        .await
    });
    (addr, shutdown)
}

/// A client whose connections come from `from` (any 127.0.0.0/8 address reaches 127.0.0.1).
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn post_edit(client: &reqwest::Client, addr: SocketAddr, bearer: Option<&str>) -> u16 {
    let mut request = client
        .post(format!("http://{addr}/v1/images/edits"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&[Part::Text("prompt", "x")]));
    if let Some(key) = bearer {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn callers_are_kept_apart_by_address() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, shutdown) =
        listen(state(dir.path(), per_minute(2, RateLimiter::in_process())).await).await;
    let (one, two) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    assert_eq!(post_edit(&one, addr, None).await, 400);
    assert_eq!(post_edit(&one, addr, None).await, 400);
    assert_eq!(post_edit(&one, addr, None).await, 429);
    assert_eq!(
        post_edit(&two, addr, None).await,
        400,
        "another address, another budget"
    );
    assert_eq!(post_edit(&two, addr, None).await, 400);
    assert_eq!(post_edit(&two, addr, None).await, 429);
    shutdown.begin();
}

async fn keyed_state(dir: &std::path::Path, store: &StateStore, limits: RateLimits) -> AppState {
    let accounts = Accounts::new(
        store.clone(),
        MasterKey::from_hex(&"5a".repeat(32)).unwrap(),
        AuthOptions::default(),
    )
    .await
    .unwrap();
    state(dir, limits).await.with_accounts(accounts)
}

#[tokio::test]
async fn callers_are_kept_apart_by_gateway_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::connect_sqlite_file(&dir.path().join("retouch.db"))
        .await
        .unwrap();
    let (_, first) = store.create_gateway_key("first").await.unwrap();
    let (_, second) = store.create_gateway_key("second").await.unwrap();
    let state = keyed_state(dir.path(), &store, per_minute(2, RateLimiter::in_process())).await;
    let (addr, shutdown) = listen(state).await;
    // Same address, different keys: separate budgets.
    let client = client_from("127.0.0.1");
    let first = Some(first.expose());
    let second = Some(second.expose());
    assert_eq!(post_edit(&client, addr, first).await, 400);
    assert_eq!(post_edit(&client, addr, first).await, 400);
    assert_eq!(post_edit(&client, addr, first).await, 429);
    assert_eq!(post_edit(&client, addr, second).await, 400);
    // Refused before the limiter (no key): a 401, which spends nothing.
    assert_eq!(post_edit(&client, addr, None).await, 401);
    assert_eq!(post_edit(&client, addr, second).await, 400);
    assert_eq!(post_edit(&client, addr, second).await, 429);
    shutdown.begin();
    store.close().await;
}

#[tokio::test]
async fn two_app_instances_share_one_budget_through_redis() {
    let Ok(url) = std::env::var("RETOUCH_TEST_REDIS_URL") else {
        eprintln!("RETOUCH_TEST_REDIS_URL is not set: skipping the shared Redis budget test");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = StateStore::connect_sqlite_file(&dir.path().join("retouch.db"))
        .await
        .unwrap();
    // A fresh key, so its bucket (`retouch:rl:key:<id>`) is new on a shared Redis.
    let (_, key) = store.create_gateway_key("shared").await.unwrap();
    let mut replicas = Vec::new();
    for i in 0..2 {
        let replica_dir = dir.path().join(format!("replica-{i}"));
        let limiter = RateLimiter::connect_redis(&url, None).await.unwrap();
        let state = keyed_state(&replica_dir, &store, per_minute(5, limiter)).await;
        replicas.push(retouch_server::app(state));
    }
    let mut statuses = Vec::new();
    for i in 0..10 {
        let app = replicas[i % 2].clone();
        let response = app.oneshot(cheap_edit(Some(key.expose()))).await.unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses,
        [400, 400, 400, 400, 400, 429, 429, 429, 429, 429],
        "five requests across both replicas, then refusals from either"
    );
    store.close().await;
}

/// A stand-in Redis that answers the connection handshake and `PING`, then drops the
/// connection and stops listening at the first script call: Redis going away mid-service.
async fn vanishing_redis() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        drop(listener);
        let mut buffer = Vec::new();
        loop {
            let mut chunk = [0u8; 4096];
            let n = match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buffer.extend_from_slice(&chunk[..n]);
            while let Some((command, used)) = resp_command(&buffer) {
                buffer.drain(..used);
                if command.eq_ignore_ascii_case("evalsha") || command.eq_ignore_ascii_case("eval") {
                    return;
                }
                if stream.write_all(b"+PONG\r\n").await.is_err() {
                    return;
                }
            }
        }
    });
    url
}

/// The name of the first complete RESP command in `buffer`, and its length in bytes.
fn resp_command(buffer: &[u8]) -> Option<(String, usize)> {
    fn line(buffer: &[u8], at: usize) -> Option<(&str, usize)> {
        let end = buffer.get(at..)?.windows(2).position(|w| w == b"\r\n")? + at;
        Some((std::str::from_utf8(&buffer[at..end]).ok()?, end + 2))
    }
    let (count, mut at) = line(buffer, 0)?;
    let count: usize = count.strip_prefix('*')?.parse().ok()?;
    let mut name = None;
    for _ in 0..count {
        let (len, next) = line(buffer, at)?;
        let len: usize = len.strip_prefix('$')?.parse().ok()?;
        let arg = buffer.get(next..next + len)?;
        name.get_or_insert_with(|| String::from_utf8_lossy(arg).into_owned());
        at = next + len + 2;
        if buffer.len() < at {
            return None;
        }
    }
    Some((name?, at))
}

#[tokio::test]
async fn when_the_limiter_fails_requests_are_served() {
    let limiter = RateLimiter::connect_redis(&vanishing_redis().await, None)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = retouch_server::app(state(dir.path(), per_minute(1, limiter)).await);
    for _ in 0..5 {
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            app.clone().oneshot(cheap_edit(None)),
        )
        .await
        .expect("a failing limiter must not hang requests")
        .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "served, not refused"
        );
        assert!(
            !response
                .headers()
                .contains_key("x-ratelimit-limit-requests")
        );
    }
}
