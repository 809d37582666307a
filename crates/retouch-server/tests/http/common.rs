//! Shared helpers for the server's in-process tests: a fresh app per test (temp data dir, small
//! engine pool), multipart bodies built byte by byte (so malformed ones can be built too), test
//! images, and assertions on OpenAI-shaped errors.

use std::io::Cursor;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use retouch_gateway::{Gateway, LocalEngine, LocalEngineConfig};
use retouch_server::{AppState, Limits, Shutdown};
use retouch_store::{ImageStore, LinkSigner, StoreLocation};
use serde_json::Value;
use tower::ServiceExt;

pub(crate) struct TestApp {
    pub(crate) router: Router,
    pub(crate) shutdown: Shutdown,
    pub(crate) dir: tempfile::TempDir,
    engine: LocalEngine,
}

pub(crate) struct Options {
    pub(crate) workers: usize,
    pub(crate) queue: usize,
    pub(crate) limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: 2,
            queue: 8,
            limits: Limits::default(),
        }
    }
}

pub(crate) async fn app() -> TestApp {
    app_with(Options::default()).await
}

pub(crate) async fn app_with(options: Options) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let (state, shutdown, engine) = state_in(dir.path(), options).await;
    TestApp {
        router: retouch_server::app(state),
        shutdown,
        dir,
        engine,
    }
}

/// The app state for a server whose data lives in `dir` (no state store: callers add one).
pub(crate) async fn state_in(
    dir: &std::path::Path,
    options: Options,
) -> (AppState, Shutdown, LocalEngine) {
    let signer = LinkSigner::load_or_create(&dir.join("link-signing.key")).unwrap();
    let store = ImageStore::open(
        &StoreLocation::Local(dir.join("images")),
        signer,
        Duration::from_secs(3600),
    )
    .await
    .unwrap();
    let engine = LocalEngine::new(LocalEngineConfig {
        workers: options.workers,
        queue: options.queue,
        ..LocalEngineConfig::default()
    })
    .unwrap();
    let shutdown = Shutdown::new();
    let state = AppState::new(
        Gateway::new(engine.clone()),
        store,
        options.limits,
        shutdown.clone(),
        None,
    );
    (state, shutdown, engine)
}

impl TestApp {
    pub(crate) async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Edits running or queued on the local engine.
    pub(crate) fn state_in_flight(&self) -> usize {
        self.engine.in_flight()
    }
}

pub(crate) const BOUNDARY: &str = "retouchtestboundary7MA4YWxkTrZu0gW";

/// One multipart part.
pub(crate) enum Part<'a> {
    Text(&'a str, &'a str),
    File {
        name: &'a str,
        filename: &'a str,
        content_type: &'a str,
        data: &'a [u8],
    },
    Raw(&'a [u8]),
}

pub(crate) fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File {
                name,
                filename,
                content_type,
                data,
            } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                         Content-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(data);
                body.extend_from_slice(b"\r\n");
            }
            Part::Raw(bytes) => body.extend_from_slice(bytes),
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub(crate) fn edit_request(body: Vec<u8>) -> Request<Body> {
    Request::post("/v1/images/edits")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("host", "127.0.0.1:8787")
        .body(Body::from(body))
        .unwrap()
}

/// A photo-like RGBA test image: gradients, stripes and an edge, with a transparent square hole
/// in the middle when `hole` is set.
pub(crate) fn test_rgba(width: u32, height: u32, hole: bool) -> image::RgbaImage {
    image::RgbaImage::from_fn(width, height, |x, y| {
        let stripe = if (x / 6 + y / 9) % 2 == 0 { 40 } else { 0 };
        let r = (x * 255 / width.max(1)) as u8;
        let g = (y * 255 / height.max(1)) as u8;
        let b = if x > width / 3 {
            200 - stripe
        } else {
            60 + stripe
        };
        let in_hole = hole
            && x >= width * 3 / 8
            && x < width * 5 / 8
            && y >= height * 3 / 8
            && y < height * 5 / 8;
        image::Rgba([r, g, b, if in_hole { 0 } else { 255 }])
    })
}

pub(crate) fn png(image: &image::RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

pub(crate) fn decode(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

/// Every pixel that was not an edit (alpha != 0 in `edit_source`) is unchanged in `result`.
pub(crate) fn assert_known_pixels_unchanged(
    input: &image::RgbaImage,
    edit_source: &image::RgbaImage,
    result: &image::RgbaImage,
) {
    assert_eq!(input.dimensions(), result.dimensions());
    for (x, y, px) in input.enumerate_pixels() {
        if edit_source.get_pixel(x, y)[3] != 0 {
            assert_eq!(px, result.get_pixel(x, y), "known pixel ({x},{y}) changed");
        }
    }
}

pub(crate) async fn body_bytes(response: Response<Body>) -> Bytes {
    response.into_body().collect().await.unwrap().to_bytes()
}

pub(crate) async fn json(response: Response<Body>) -> Value {
    let bytes = body_bytes(response).await;
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

/// Asserts an OpenAI-shaped error with exactly this status, type and param, whose message
/// contains `message_part`; returns the error object.
pub(crate) async fn assert_error(
    response: Response<Body>,
    status: StatusCode,
    kind: &str,
    param: Option<&str>,
    message_part: &str,
) -> Value {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().contains_key("x-request-id"),
        "x-request-id missing"
    );
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = json(response).await;
    let error = &body["error"];
    let object = error.as_object().expect("error object");
    for key in ["message", "type", "param", "code"] {
        assert!(object.contains_key(key), "error.{key} missing in {body}");
    }
    assert_eq!(error["type"], kind, "{body}");
    assert_eq!(error["param"].as_str(), param, "{body}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(message_part),
        "message {message:?} lacks {message_part:?}"
    );
    error.clone()
}
