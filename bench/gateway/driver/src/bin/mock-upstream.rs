//! A mock OpenAI `POST …/images/edits` upstream that is never the bottleneck: it reads the whole
//! multipart body, waits an optional fixed delay (to hold requests in flight for the memory test)
//! and answers a small fixed `ImagesResponse`; beside that it hashes the image part and counts
//! whether it matched the expected sha256. `GET /stats` reports the counts; `POST /stats/reset` zeroes them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use gateway_bench_driver::hex;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;

/// A valid 1×1 RGBA PNG: the answer is small so the response path costs the same everywhere.
const ONE_PIXEL_PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

#[derive(Debug, Parser)]
struct Args {
    /// Port on 127.0.0.1 (0 picks one; the chosen port is printed as `listening on PORT`).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Delay after the body has been read, before answering.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// The sha256 the image part must have.
    #[arg(long)]
    expect_sha256: String,
}

#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    image_ok: AtomicU64,
    image_mismatch: AtomicU64,
    image_missing: AtomicU64,
    body_bytes: AtomicU64,
    /// Bodies received whose image is still being hashed.
    hashing: AtomicU64,
}

#[derive(Debug)]
struct Mock {
    stats: Stats,
    delay: Duration,
    expect: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mock = Arc::new(Mock {
        stats: Stats::default(),
        delay: Duration::from_millis(args.delay_ms),
        expect: args.expect_sha256.to_ascii_lowercase(),
    });
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    eprintln!("listening on {}", listener.local_addr()?.port());
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let mock = Arc::clone(&mock);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let mock = Arc::clone(&mock);
                async move { Ok::<_, Infallible>(mock.handle(req).await) }
            });
            // A client that hangs up mid-request is not the mock's concern.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Mock {
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        match (req.method(), path.as_str()) {
            (&Method::GET, "/stats") => {
                self.settled().await;
                json(StatusCode::OK, self.stats_json())
            }
            (&Method::POST, "/stats/reset") => {
                self.settled().await;
                for counter in self.counters() {
                    counter.store(0, Ordering::Relaxed);
                }
                json(StatusCode::OK, self.stats_json())
            }
            (&Method::POST, p) if p.ends_with("/images/edits") => self.edit(req).await,
            _ => json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": {"message": format!("mock: no route {path}")}}),
            ),
        }
    }

    async fn edit(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let boundary = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| multer::parse_boundary(ct).ok());
        let body = match req.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return bad_request(format!("reading the body: {error}")),
        };
        self.stats
            .body_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        let Some(boundary) = boundary else {
            return bad_request("no multipart boundary".to_owned());
        };
        // Hashing 4 MB takes milliseconds: do it beside the answer, not in front of it, so the
        // mock adds as little as possible to every gateway's latency. `/stats` waits for it.
        self.stats.hashing.fetch_add(1, Ordering::SeqCst);
        let mock = Arc::clone(&self);
        tokio::spawn(async move {
            let counter = match image_sha256(body, boundary).await {
                Ok(Some(digest)) if digest == mock.expect => &mock.stats.image_ok,
                Ok(Some(_)) => &mock.stats.image_mismatch,
                Ok(None) | Err(_) => &mock.stats.image_missing,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            mock.stats.hashing.fetch_sub(1, Ordering::SeqCst);
        });
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        json(
            StatusCode::OK,
            serde_json::json!({"created": created, "data": [{"b64_json": ONE_PIXEL_PNG_B64}]}),
        )
    }

    /// Waits (up to 10 s) until every received body has been hashed, so counts are final.
    async fn settled(&self) {
        for _ in 0..10_000 {
            if self.stats.hashing.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn counters(&self) -> [&AtomicU64; 5] {
        let s = &self.stats;
        [
            &s.requests,
            &s.image_ok,
            &s.image_mismatch,
            &s.image_missing,
            &s.body_bytes,
        ]
    }

    fn stats_json(&self) -> serde_json::Value {
        let s = &self.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "requests": get(&s.requests),
            "image_ok": get(&s.image_ok),
            "image_mismatch": get(&s.image_mismatch),
            "image_missing": get(&s.image_missing),
            "body_bytes": get(&s.body_bytes),
        })
    }
}

/// The sha256 of the `image` (or first `image[]`) part, `None` when there is none.
async fn image_sha256(body: Bytes, boundary: String) -> Result<Option<String>, multer::Error> {
    let stream = futures_util::stream::iter([Ok::<_, Infallible>(body)]);
    let mut multipart = multer::Multipart::new(stream, boundary);
    while let Some(mut field) = multipart.next_field().await? {
        if matches!(field.name(), Some("image" | "image[]")) {
            let mut hasher = Sha256::new();
            while let Some(chunk) = field.chunk().await? {
                hasher.update(&chunk);
            }
            let digest = hasher.finalize();
            return Ok(Some(hex(&digest)));
        }
    }
    Ok(None)
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn bad_request(message: String) -> Response<Full<Bytes>> {
    json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"error": {"message": message, "type": "invalid_request_error"}}),
    )
}
