//! `retouch serve` with rate limits: a Redis URL that does not answer stops start-up with a
//! clear message, and (when `RETOUCH_TEST_REDIS_URL` is set) `--requests-per-minute` with
//! `--redis-url` refuses the request past the limit with OpenAI's 429; the same over TLS
//! (`rediss://` with `--redis-ca-file`, when `RETOUCH_TEST_REDISS_URL` is set).

#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

fn retouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_retouch"))
}

fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// Runs `serve --port 0 ARGS…` on a fresh data directory, with no config file or Redis URL
/// from the environment; it must fail to start. Returns what it printed on stderr.
fn start_up_error(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = retouch()
        .args(["serve", "--port", "0"])
        .args(args)
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("RETOUCH_CONFIG")
        .env_remove("RETOUCH_REDIS_URL")
        .output()
        .unwrap();
    assert!(!output.status.success(), "serve {args:?} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unreachable_redis_stops_start_up() {
    let url = format!("redis://:s3cr3tpass@127.0.0.1:{}", free_port());
    let stderr = start_up_error(&["--requests-per-minute", "5", "--redis-url", &url]);
    assert!(stderr.contains("connecting to Redis"), "{stderr}");
    assert!(
        !stderr.contains("s3cr3tpass"),
        "the password leaked: {stderr}"
    );

    let stderr = start_up_error(&["--redis-url", "http://nope"]);
    assert!(stderr.contains("invalid Redis URL"), "{stderr}");
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn requests_past_the_limit_are_refused_through_redis() {
    let Ok(redis) = std::env::var("RETOUCH_TEST_REDIS_URL") else {
        eprintln!("RETOUCH_TEST_REDIS_URL is not set: skipping the serve + Redis limit test");
        return;
    };
    assert_eq!(statuses_through(&[&redis]), [400, 400, 429]);
}

#[test]
fn rediss_with_a_private_ca_limits_like_plain_redis_and_without_it_stops_start_up() {
    let (Ok(rediss), Ok(ca)) = (
        std::env::var("RETOUCH_TEST_REDISS_URL"),
        std::env::var("RETOUCH_TEST_REDIS_CA"),
    ) else {
        eprintln!("RETOUCH_TEST_REDISS_URL / RETOUCH_TEST_REDIS_CA not set: skipping");
        return;
    };
    assert_eq!(
        statuses_through(&[&rediss, "--redis-ca-file", &ca]),
        [400, 400, 429]
    );
    // The system's trust store does not know the test CA.
    let stderr = start_up_error(&["--requests-per-minute", "5", "--redis-url", &rediss]);
    assert!(stderr.contains("connecting to Redis"), "{stderr}");
    // A CA file with nothing to use it for is a mistake worth stopping for.
    let stderr = start_up_error(&["--redis-ca-file", &ca]);
    assert!(stderr.contains("no --redis-url"), "{stderr}");
}

/// Starts `serve --requests-per-minute 2 --redis-url ARGS…` and returns the statuses of
/// three edits (invalid ones: the limit is checked before the body is read).
fn statuses_through(redis_args: &[&str]) -> Vec<u16> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = retouch()
        .args(["serve", "--port", "0", "--requests-per-minute", "2"])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--redis-url")
        .args(redis_args)
        .env_remove("RETOUCH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();

    // Requests come from 127.0.<random>, so reruns against the same Redis start afresh.
    let from = std::net::Ipv4Addr::new(127, 0, rand_octet(), rand_octet());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let statuses = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .local_address(std::net::IpAddr::V4(from))
            .build()
            .unwrap();
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let response = client
                .post(format!("{base}/v1/images/edits"))
                .multipart(reqwest::multipart::Form::new().text("prompt", "x"))
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
            if response.status() == 429 {
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
            }
        }
        statuses
    });
    drop(server);
    statuses
}

fn rand_octet() -> u8 {
    // Not 0 or 255; the clock's nanoseconds are random enough to keep reruns apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u8::try_from(nanos % 250).unwrap() + 1
}
