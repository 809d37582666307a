//! The mock upstream server: start/stop, scripting, and request recording shared by every kind.
//!
//! Each provider's wire format (paths, auth, validation, success and error bodies) lives in its
//! own module; this one routes a request to it after recording it.

mod a1111;
mod gemini;
mod iopaint;
mod openai;
mod record;
mod stability;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

pub use record::{RecordedPart, RecordedRequest};

/// Which provider's wire format a mock speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockKind {
    /// `POST {base}/v1/images/edits`, multipart, `Authorization: Bearer`.
    OpenAi,
    /// Azure OpenAI: `/openai/deployments/{d}/images/edits?api-version=…` and
    /// `/openai/v1/images/edits`, `api-key` header.
    AzureOpenAi,
    /// Stability AI v2beta `/v2beta/stable-image/edit/{inpaint,erase}`, multipart, Bearer.
    Stability,
    /// AUTOMATIC1111 / Forge `/sdapi/v1/img2img`, JSON, optional HTTP Basic.
    A1111,
    /// Gemini `/v1beta/models/{model}:generateContent`, JSON, `x-goog-api-key`.
    Gemini,
    /// IOPaint `/api/v1/inpaint`, JSON in, raw image bytes out (auth only behind a proxy: Bearer).
    IoPaint,
}

impl MockKind {
    /// The credential a mock expects by default (for A1111, `user:password` for HTTP Basic).
    pub fn default_key(self) -> &'static str {
        match self {
            Self::OpenAi => "sk-mock-openai-0123456789abcdef",
            Self::AzureOpenAi => "mock-azure-key-0123456789abcdef",
            Self::Stability => "sk-mock-stability-0123456789abcdef",
            Self::A1111 => "mockuser:mock-password-0123456789",
            Self::Gemini => "AIzaMockGeminiKey0123456789abcdef",
            Self::IoPaint => "mock-iopaint-proxy-token-0123456789",
        }
    }
}

/// What the mock does with the next request (after the auth check, which always runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Validate like the real API and answer with results (or the API's own 400 when invalid).
    Succeed,
    /// Succeed, but A1111 prepends a grid image even though the request disabled it.
    SucceedWithGrid,
    /// A 4xx with the provider's error body carrying `message`.
    ClientError {
        /// HTTP status, 400–499.
        status: u16,
        /// The provider's error text.
        message: String,
    },
    /// A 500 with the provider's error body.
    ServerError,
    /// A 429 with `retry-after: {retry_after_secs}` and the provider's error body.
    RateLimited {
        /// Seconds in `retry-after`.
        retry_after_secs: u64,
    },
    /// Never answer (until the mock is dropped).
    Hang,
    /// A 200 whose body is not what the API documents.
    Malformed,
    /// A content-filter verdict: Stability `finish_reason: CONTENT_FILTERED`, Gemini
    /// `promptFeedback.blockReason`, OpenAI 400 `moderation_blocked`.
    ContentFiltered,
    /// Gemini answers with text only, no image.
    TextOnly,
}

/// How to start a mock.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// The credential requests must carry; `None` means the mock accepts requests without one.
    pub api_key: Option<String>,
}

/// A running mock upstream. Dropping it stops the server and releases hanging requests.
#[derive(Debug)]
pub struct MockUpstream {
    kind: MockKind,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    kind: MockKind,
    api_key: Option<String>,
    origin: String,
    requests: Mutex<Vec<RecordedRequest>>,
    script: Mutex<VecDeque<Reply>>,
    files: Mutex<HashMap<String, Bytes>>,
    sequence: AtomicU64,
    shutdown: CancellationToken,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MockUpstream {
    /// Starts a mock of `kind` that expects [`MockKind::default_key`].
    pub async fn start(kind: MockKind) -> Self {
        Self::start_with(
            kind,
            MockOptions {
                api_key: Some(kind.default_key().to_owned()),
            },
        )
        .await
    }

    /// Starts a mock with explicit options.
    pub async fn start_with(kind: MockKind, options: MockOptions) -> Self {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(error) => panic!("cannot bind a mock upstream: {error}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(error) => panic!("mock upstream has no address: {error}"),
        };
        let shared = Arc::new(Shared {
            kind,
            api_key: options.api_key,
            origin: format!("http://{addr}"),
            requests: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            files: Mutex::new(HashMap::new()),
            sequence: AtomicU64::new(0),
            shutdown: CancellationToken::new(),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let shutdown = shared.shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
        });
        Self { kind, addr, shared }
    }

    /// The provider this mock speaks.
    pub fn kind(&self) -> MockKind {
        self.kind
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL a provider target should use: `http://127.0.0.1:{port}/v1` for OpenAI (which
    /// includes the version like `https://api.openai.com/v1`), the bare origin for the others.
    pub fn base_url(&self) -> String {
        match self.kind {
            MockKind::OpenAi => format!("{}/v1", self.shared.origin),
            MockKind::AzureOpenAi
            | MockKind::Stability
            | MockKind::A1111
            | MockKind::Gemini
            | MockKind::IoPaint => self.shared.origin.clone(),
        }
    }

    /// The credential this mock expects, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.shared.api_key.as_deref()
    }

    /// Queues replies for the next requests, in order; once they are used up, requests succeed.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.script).extend(replies);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests reached the edit endpoint (file downloads are not counted).
    pub fn edit_calls(&self) -> usize {
        lock(&self.shared.requests)
            .iter()
            .filter(|r| r.method == Method::POST)
            .count()
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl Shared {
    fn next_reply(&self) -> Reply {
        lock(&self.script).pop_front().unwrap_or(Reply::Succeed)
    }

    fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// Stores a result so that it can be downloaded from `{origin}/files/{name}`; returns the URL.
    fn host_file(&self, name: String, bytes: Bytes) -> String {
        let url = format!("{}/files/{name}", self.origin);
        lock(&self.files).insert(name, bytes);
        url
    }

    /// Waits until the mock is dropped, for [`Reply::Hang`].
    async fn hang(&self) -> Response {
        self.shutdown.cancelled().await;
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = record::record(method.clone(), &uri, headers, body).await;
    lock(&shared.requests).push(request.clone());

    if method == Method::GET
        && let Some(name) = uri.path().strip_prefix("/files/")
    {
        return match lock(&shared.files).get(name) {
            Some(bytes) => ([(header::CONTENT_TYPE, "image/png")], bytes.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    match shared.kind {
        MockKind::OpenAi | MockKind::AzureOpenAi => openai::handle(&shared, &request).await,
        MockKind::Stability => stability::handle(&shared, &request).await,
        MockKind::A1111 => a1111::handle(&shared, &request).await,
        MockKind::Gemini => gemini::handle(&shared, &request).await,
        MockKind::IoPaint => iopaint::handle(&shared, &request).await,
    }
}

/// A JSON response with extra headers.
fn json_response(status: u16, body: &serde_json::Value, headers: &[(&str, String)]) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The `retry-after` header pair for a 429.
fn retry_after(secs: u64) -> Vec<(&'static str, String)> {
    vec![("retry-after", secs.to_string())]
}

/// A 200 that claims JSON but is not.
fn malformed_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        "{\"data\": [ this is not json",
    )
        .into_response()
}
