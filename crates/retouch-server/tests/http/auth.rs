//! Gateway keys, virtual keys, saved configs and usage records, over real HTTP on 127.0.0.1:
//! the app served on port 0 with a state store (a fresh SQLite file always; a fresh PostgreSQL
//! database too when `RETOUCH_TEST_DATABASE_URL` is set), driven with reqwest, against mock
//! upstreams that record what they received.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use retouch_server::{Accounts, AuthOptions};
use retouch_store::{MasterKey, StateStore, UsageQuery};
use retouch_test_support::fixtures::photo_png;
use retouch_test_support::scratch_db::{DATABASE_URL_VAR, ScratchDatabase};
use retouch_test_support::{MockKind, MockUpstream};
use serde_json::{Value, json};

use crate::common;

/// Short enough that tests wait little for a create or revoke to take effect.
const TTL: Duration = Duration::from_millis(150);

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A server with a state store, listening on 127.0.0.1.
struct Server {
    base: String,
    store: StateStore,
    master: MasterKey,
    dir: tempfile::TempDir,
    client: reqwest::Client,
    /// PostgreSQL: the database to drop at the end.
    scratch: Option<ScratchDatabase>,
}

fn master() -> MasterKey {
    MasterKey::from_hex(&"5a".repeat(32)).unwrap()
}

/// The backends to run on: SQLite, and PostgreSQL when configured.
fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if std::env::var(DATABASE_URL_VAR).is_ok() {
        all.push(Backend::Postgres);
    } else {
        eprintln!("postgres half skipped: {DATABASE_URL_VAR} not set");
    }
    all
}

async fn open_store(backend: Backend, dir: &Path) -> (StateStore, Option<ScratchDatabase>) {
    match backend {
        Backend::Sqlite => (
            StateStore::connect_sqlite_file(&dir.join("retouch.db"))
                .await
                .unwrap(),
            None,
        ),
        Backend::Postgres => {
            let scratch = ScratchDatabase::create("retouch_auth")
                .await
                .unwrap()
                .expect("backends() offers PostgreSQL only when it is configured");
            let store = StateStore::connect(scratch.url()).await.unwrap();
            (store, Some(scratch))
        }
    }
}

async fn start(backend: Backend, require_auth: bool) -> Server {
    start_with_ttl(backend, require_auth, TTL).await
}

async fn start_with_ttl(backend: Backend, require_auth: bool, cache_ttl: Duration) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (store, scratch) = open_store(backend, dir.path()).await;
    let (state, _shutdown, _engine) =
        common::state_in(dir.path(), common::Options::default()).await;
    let accounts = Accounts::new(
        store.clone(),
        master(),
        AuthOptions {
            require_auth,
            cache_ttl,
        },
    )
    .await
    .unwrap();
    let app = retouch_server::app(state.with_accounts(accounts));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server {
        base: format!("http://{addr}"),
        store,
        master: master(),
        dir,
        client: reqwest::Client::new(),
        scratch,
    }
}

impl Server {
    async fn finish(self) {
        self.store.close().await;
        if let Some(scratch) = self.scratch {
            scratch.drop_database().await.unwrap();
        }
    }

    async fn models(&self, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(format!("{}/v1/models", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// A gpt-image-1 edit of a small photo, with `headers`.
    async fn edit(&self, headers: &[(&str, &str)]) -> reqwest::Response {
        let form = Form::new()
            .part(
                "image",
                Part::bytes(photo_png(32, 32))
                    .file_name("photo.png")
                    .mime_str("image/png")
                    .unwrap(),
            )
            .text("prompt", "remove the lamp post")
            .text("model", "gpt-image-1");
        let mut request = self
            .client
            .post(format!("{}/v1/images/edits", self.base))
            .multipart(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    async fn new_key(&self, name: &str) -> (String, String) {
        let (record, key) = self.store.create_gateway_key(name).await.unwrap();
        // Let the server's "are there keys?" cache expire.
        tokio::time::sleep(TTL * 2).await;
        (record.id, key.expose().to_owned())
    }
}

/// Asserts a 401 in OpenAI's shape with this code, returning its message.
async fn assert_401(response: reqwest::Response, code: Option<&str>) -> String {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert_eq!(body["error"]["code"].as_str(), code, "{body}");
    assert!(body["error"]["param"].is_null(), "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

async fn assert_400(response: reqwest::Response, code: &str, param: &str) -> String {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["param"], param, "{body}");
    body["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn keys_close_v1_and_revokes_take_effect_within_the_ttl() {
    for backend in backends() {
        let server = start(backend, false).await;
        // No keys: open, as out of the box.
        assert_eq!(server.models(&[]).await.status(), StatusCode::OK);

        let (id, key) = server.new_key("ci").await;
        let message = assert_401(server.models(&[]).await, None).await;
        assert!(
            message.starts_with("You didn't provide an API key."),
            "{message}"
        );
        // A provider key alone is not a gateway key.
        let message = assert_401(
            server
                .models(&[("authorization", "Bearer sk-provider-123")])
                .await,
            None,
        )
        .await;
        assert!(message.contains("not a gateway key"), "{message}");
        assert!(!message.contains("sk-provider-123"), "{message}");

        let mut wrong = key.clone();
        wrong.replace_range(30..31, if &key[30..31] == "0" { "1" } else { "0" });
        let bearer_wrong = format!("Bearer {wrong}");
        let message = assert_401(
            server.models(&[("authorization", &bearer_wrong)]).await,
            Some("invalid_api_key"),
        )
        .await;
        assert!(
            message.contains(&format!("{}****", &wrong[..8])),
            "{message}"
        );
        assert!(!message.contains(&wrong[8..]), "{message}");

        let bearer = format!("Bearer {key}");
        assert_eq!(
            server.models(&[("authorization", &bearer)]).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            server.models(&[("x-portkey-api-key", &key)]).await.status(),
            StatusCode::OK
        );
        // Outside /v1: health and the playground stay open.
        for path in ["/health", "/"] {
            let response = server
                .client
                .get(format!("{}{path}", server.base))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        }

        assert!(server.store.revoke_gateway_key(&id).await.unwrap());
        tokio::time::sleep(TTL * 2).await;
        // The last key is revoked: auth is off again, but the revoked key itself is refused.
        assert_401(
            server.models(&[("authorization", &bearer)]).await,
            Some("invalid_api_key"),
        )
        .await;
        assert_eq!(server.models(&[]).await.status(), StatusCode::OK);
        server.finish().await;
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_while_other_keys_keep_auth_on() {
    for backend in backends() {
        let server = start(backend, false).await;
        let (id, key) = server.new_key("old").await;
        let (_, other) = server.new_key("new").await;
        let bearer = format!("Bearer {key}");
        assert_eq!(
            server.models(&[("authorization", &bearer)]).await.status(),
            StatusCode::OK
        );
        server.store.revoke_gateway_key(&id).await.unwrap();
        tokio::time::sleep(TTL * 2).await;
        assert_401(
            server.models(&[("authorization", &bearer)]).await,
            Some("invalid_api_key"),
        )
        .await;
        assert_401(server.models(&[]).await, None).await;
        let other = format!("Bearer {other}");
        assert_eq!(
            server.models(&[("authorization", &other)]).await.status(),
            StatusCode::OK
        );
        server.finish().await;
    }
}

#[tokio::test]
async fn require_auth_refuses_everyone_until_a_key_exists() {
    let server = start(Backend::Sqlite, true).await;
    assert_401(server.models(&[]).await, None).await;
    let (_, key) = server.new_key("first").await;
    let bearer = format!("Bearer {key}");
    assert_eq!(
        server.models(&[("authorization", &bearer)]).await.status(),
        StatusCode::OK
    );
    server.finish().await;
}

/// Headers that route an edit to `mock` as OpenAI.
fn to_mock(mock: &MockUpstream) -> Vec<(&'static str, String)> {
    vec![
        ("x-portkey-provider", "openai".to_owned()),
        ("x-portkey-custom-host", mock.base_url()),
    ]
}

fn refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// Every header value the mock received, as one string.
fn received_headers(mock: &MockUpstream) -> String {
    mock.requests()
        .iter()
        .flat_map(|r| r.headers.iter())
        .map(|(name, value)| format!("{name}: {}\n", value.to_str().unwrap_or("")))
        .collect()
}

#[tokio::test]
async fn the_gateway_key_is_never_forwarded_but_the_provider_key_is() {
    for backend in backends() {
        let server = start(backend, false).await;
        let (_, key) = server.new_key("sdk").await;
        let mock = MockUpstream::start(MockKind::OpenAi).await;
        let provider_key = mock.api_key().unwrap().to_owned();

        // OpenAI SDK style: gateway key as the bearer, provider key in x-portkey-api-key.
        let bearer = format!("Bearer {key}");
        let mut headers = to_mock(&mock);
        headers.push(("authorization", bearer));
        headers.push(("x-portkey-api-key", provider_key.clone()));
        let response = server.edit(&refs(&headers)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );

        // Portkey SDK style: gateway key in x-portkey-api-key, provider key as the bearer.
        let mut headers = to_mock(&mock);
        headers.push(("x-portkey-api-key", key.clone()));
        headers.push(("authorization", format!("Bearer {provider_key}")));
        let response = server.edit(&refs(&headers)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );

        let requests = mock.requests();
        assert_eq!(requests.len(), 2);
        for request in &requests {
            assert_eq!(
                request.header("authorization"),
                Some(format!("Bearer {provider_key}").as_str())
            );
        }
        assert!(!received_headers(&mock).contains(&key));

        // A gateway key and no provider key: nothing is sent in its place.
        let mut headers = to_mock(&mock);
        headers.push(("authorization", format!("Bearer {key}")));
        let response = server.edit(&refs(&headers)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(!received_headers(&mock).contains(&key));
        server.finish().await;
    }
}

#[tokio::test]
async fn virtual_keys_send_the_decrypted_key_to_their_provider_only() {
    for backend in backends() {
        let server = start(backend, false).await;
        let mock = MockUpstream::start(MockKind::OpenAi).await;
        let secret = mock.api_key().unwrap().to_owned();
        server
            .store
            .create_virtual_key(&server.master, "openai-prod", "openai", &secret)
            .await
            .unwrap();
        server
            .store
            .create_virtual_key(&server.master, "stale", "openai", "sk-wrong-key-000")
            .await
            .unwrap();

        // The header alone names the provider (from the key's record).
        let host = mock.base_url();
        let response = server
            .edit(&[
                ("x-portkey-virtual-key", "openai-prod"),
                ("x-portkey-custom-host", &host),
            ])
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        assert_eq!(response_provider(&mock), Some(format!("Bearer {secret}")));

        // In a config target, with a provider header that agrees.
        let config = json!({"virtual_key": "openai-prod", "custom_host": host}).to_string();
        let response = server.edit(&[("x-portkey-config", &config)]).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        assert_eq!(response_provider(&mock), Some(format!("Bearer {secret}")));

        // Precedence: the config's api_key beats the virtual key, which beats the caller's key.
        let config = json!({"provider": "openai", "virtual_key": "stale", "api_key": secret, "custom_host": host}).to_string();
        let response = server.edit(&[("x-portkey-config", &config)]).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        let caller = "Bearer sk-caller-should-lose";
        let response = server
            .edit(&[
                ("x-portkey-virtual-key", "openai-prod"),
                ("x-portkey-custom-host", &host),
                ("authorization", caller),
            ])
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        assert_eq!(response_provider(&mock), Some(format!("Bearer {secret}")));
        let calls = mock.edit_calls();

        // Unknown id, and a provider that is not the key's: 400s naming the header, no call.
        let message = assert_400(
            server
                .edit(&[
                    ("x-portkey-virtual-key", "nope"),
                    ("x-portkey-custom-host", &host),
                ])
                .await,
            "invalid_virtual_key",
            "x-portkey-virtual-key",
        )
        .await;
        assert!(message.contains("'nope'"), "{message}");
        let message = assert_400(
            server
                .edit(&[
                    ("x-portkey-virtual-key", "openai-prod"),
                    ("x-portkey-provider", "stability-ai"),
                    ("x-portkey-custom-host", &host),
                ])
                .await,
            "virtual_key_provider_mismatch",
            "x-portkey-virtual-key",
        )
        .await;
        assert!(!message.contains(&secret), "{message}");
        assert_eq!(mock.edit_calls(), calls);
        server.finish().await;
    }
}

/// The authorization header of the mock's latest request.
fn response_provider(mock: &MockUpstream) -> Option<String> {
    mock.requests()
        .last()
        .and_then(|r| r.header("authorization").map(str::to_owned))
}

#[tokio::test]
async fn saved_configs_are_used_by_id() {
    for backend in backends() {
        let server = start(backend, false).await;
        let mock = MockUpstream::start(MockKind::OpenAi).await;
        let config = json!({
            "strategy": {"mode": "fallback"},
            "targets": [{"provider": "openai", "custom_host": mock.base_url(), "api_key": mock.api_key()}]
        });
        server
            .store
            .put_config("pc-mock", &config.to_string())
            .await
            .unwrap();
        let response = server.edit(&[("x-portkey-config", "pc-mock")]).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        assert_eq!(
            response.headers()["x-portkey-last-used-option-index"],
            "config.targets[0]"
        );
        assert_eq!(mock.edit_calls(), 1);
        assert_400(
            server.edit(&[("x-portkey-config", "pc-missing")]).await,
            "invalid_config",
            "x-portkey-config",
        )
        .await;
        server.finish().await;
    }
}

#[tokio::test]
async fn virtual_keys_and_saved_configs_are_read_once_per_ttl() {
    // Long enough that the requests right after a delete are surely inside it.
    let ttl = Duration::from_secs(2);
    for backend in backends() {
        let server = start_with_ttl(backend, false, ttl).await;
        let mock = MockUpstream::start(MockKind::OpenAi).await;
        let host = mock.base_url();
        server
            .store
            .create_virtual_key(&server.master, "vk", "openai", mock.api_key().unwrap())
            .await
            .unwrap();
        let config = json!({"provider": "openai", "custom_host": host, "api_key": mock.api_key()});
        server
            .store
            .put_config("pc", &config.to_string())
            .await
            .unwrap();
        let by_key = [
            ("x-portkey-virtual-key", "vk"),
            ("x-portkey-custom-host", &host),
        ];
        let by_config = [("x-portkey-config", "pc")];
        for headers in [&by_key[..], &by_config[..]] {
            assert_eq!(server.edit(headers).await.status(), StatusCode::OK);
        }
        // Deleted in the store: the cached answers keep serving until the TTL runs out...
        assert!(server.store.delete_virtual_key("vk").await.unwrap());
        assert!(server.store.delete_config("pc").await.unwrap());
        for headers in [&by_key[..], &by_config[..]] {
            assert_eq!(server.edit(headers).await.status(), StatusCode::OK);
        }
        // ...and then the deletes take effect.
        tokio::time::sleep(ttl + Duration::from_millis(200)).await;
        assert_400(
            server.edit(&by_key).await,
            "invalid_virtual_key",
            "x-portkey-virtual-key",
        )
        .await;
        assert_400(
            server.edit(&by_config).await,
            "invalid_config",
            "x-portkey-config",
        )
        .await;
        assert_eq!(mock.edit_calls(), 4);
        server.finish().await;
    }
}

#[tokio::test]
async fn every_edit_leaves_a_usage_record() {
    for backend in backends() {
        let server = start(backend, false).await;
        let (id, key) = server.new_key("billing").await;
        let mock = MockUpstream::start(MockKind::OpenAi).await;
        let mut headers = to_mock(&mock);
        headers.push(("authorization", format!("Bearer {key}")));
        headers.push(("x-portkey-api-key", mock.api_key().unwrap().to_owned()));
        let response = server.edit(&refs(&headers)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body_len = response.bytes().await.unwrap().len() as u64;
        // A failing edit is recorded too.
        let response = server
            .edit(&[
                ("authorization", &format!("Bearer {key}")),
                ("x-portkey-config", "nope"),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);

        let deadline = Instant::now() + Duration::from_secs(5);
        let rows = loop {
            let rows = server
                .store
                .query_usage(&UsageQuery::default())
                .await
                .unwrap();
            if rows.len() >= 2 || Instant::now() > deadline {
                break rows;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(rows.len(), 2, "{rows:?}");
        let ok = rows.iter().find(|r| r.status == 200).unwrap();
        assert_eq!(ok.request_id, request_id);
        assert_eq!(ok.key_id.as_deref(), Some(id.as_str()));
        assert_eq!(ok.provider, "openai");
        assert_eq!(ok.model, "gpt-image-1");
        assert_eq!(ok.n, 1);
        assert_eq!(ok.bytes_out, body_len);
        assert!(ok.bytes_in > 1000, "{ok:?}");
        let failed = rows.iter().find(|r| r.status == 400).unwrap();
        assert_eq!(failed.n, 0);
        assert_eq!(failed.key_id.as_deref(), Some(id.as_str()));
        server.finish().await;
    }
}

/// Collects everything logged while it is the default subscriber (this test's thread; the
/// server runs on the same current-thread runtime).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every byte of every file under `dir`.
fn all_file_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_file_bytes(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn clear_keys_never_reach_logs_responses_or_the_data_dir() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "retouch_server=trace,retouch_gateway=trace,retouch_store=trace,info",
        ))
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = start(Backend::Sqlite, false).await;
    let (_, key) = server.new_key("secret-test").await;
    let mock = MockUpstream::start(MockKind::OpenAi).await;
    let secret = mock.api_key().unwrap().to_owned();
    server
        .store
        .create_virtual_key(&server.master, "vk-secret", "openai", &secret)
        .await
        .unwrap();
    let bearer = format!("Bearer {key}");
    let host = mock.base_url();
    let mut bodies = Vec::new();
    for headers in [
        vec![
            ("authorization", bearer.as_str()),
            ("x-portkey-virtual-key", "vk-secret"),
            ("x-portkey-custom-host", host.as_str()),
        ],
        vec![
            ("x-portkey-api-key", key.as_str()),
            ("x-portkey-virtual-key", "vk-secret"),
            ("x-portkey-provider", "gemini"),
        ],
        vec![
            ("authorization", bearer.as_str()),
            ("x-portkey-virtual-key", "nope"),
        ],
        vec![("authorization", &bearer[..bearer.len() - 1])],
    ] {
        let response = server.edit(&headers).await;
        bodies.extend(format!("{:?}", response.headers()).into_bytes());
        bodies.extend(response.bytes().await.unwrap());
    }
    let models = server
        .models(&[("authorization", &bearer[..bearer.len() - 2])])
        .await;
    bodies.extend(models.bytes().await.unwrap());
    server.store.close().await;

    let logged = logs.0.lock().unwrap().clone();
    assert!(contains(&logged, "request"), "nothing was logged");
    let files = all_file_bytes(server.dir.path());
    for (what, haystack) in [
        ("logs", &logged),
        ("responses", &bodies),
        ("data dir", &files),
    ] {
        assert!(
            !contains(haystack, &key[4..]),
            "gateway key found in {what}"
        );
        // The part of the key that is never displayed (not even as `keys list`'s prefix).
        assert!(
            !contains(haystack, &key[12..28]),
            "gateway key found in {what}"
        );
        assert!(
            !contains(haystack, &secret),
            "provider secret found in {what}"
        );
    }
    server.finish().await;
}
