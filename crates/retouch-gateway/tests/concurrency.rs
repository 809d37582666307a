//! `max_concurrency` on a configured provider: a slow upstream that counts the requests it is
//! serving at once shows the cap holds across requests and their `n` fan-out, that routing
//! takes the cap from the `[providers]` entry, that an OpenAI-family call holds its slot, and
//! that waiting for a slot comes out of the attempt's deadline.
//!
//! The upstream is a few lines of HTTP/1.1 over a `TcpListener` rather than the shared mocks,
//! because what matters here is holding requests open and counting them.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly on broken fixtures"
)]

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use retouch_api::{EditForm, EditRequest, FormPart, ModelRules};
use retouch_gateway::config::{DefaultRoute, ProviderEntry};
use retouch_gateway::limits::ConcurrencyCap;
use retouch_gateway::{
    Gateway, GatewaySettings, LocalEngine, LocalEngineConfig, Provider, ProviderOutput,
    ProviderTarget, RouteRequest, RoutedOutput, UpstreamClient, UpstreamConfig,
};
use retouch_test_support::fixtures::{openai_mask_png, photo_png, result_png};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use url::Url;

/// A slow upstream: IOPaint's `/api/v1/inpaint` (raw PNG) and OpenAI's `/v1/images/edits`
/// (JSON), each answered after `delay`, counting requests in flight.
struct SlowUpstream {
    base: String,
    peak: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
}

impl SlowUpstream {
    async fn start(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(AtomicUsize::new(0));
        let counters = (
            Arc::clone(&in_flight),
            Arc::clone(&peak),
            Arc::clone(&served),
        );
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (in_flight, peak, served) = (
                    Arc::clone(&counters.0),
                    Arc::clone(&counters.1),
                    Arc::clone(&counters.2),
                );
                tokio::spawn(async move {
                    serve(stream, delay, &in_flight, &peak, &served).await;
                });
            }
        });
        Self { base, peak, served }
    }

    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }
}

/// Serves keep-alive requests on one connection until the client closes it.
async fn serve(
    mut stream: TcpStream,
    delay: Duration,
    in_flight: &AtomicUsize,
    peak: &AtomicUsize,
    served: &AtomicUsize,
) {
    let mut buffer = Vec::new();
    loop {
        // Headers, then exactly Content-Length bytes of body.
        let header_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 16 * 1024];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < header_end + length {
            let mut chunk = [0u8; 16 * 1024];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let openai = head.starts_with("post /v1/images/edits");
        buffer.drain(..header_end + length);

        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        served.fetch_add(1, Ordering::SeqCst);

        let png = result_png(1);
        let (content_type, body) = if openai {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
            (
                "application/json",
                format!(r#"{{"created":1,"data":[{{"b64_json":"{b64}"}}]}}"#).into_bytes(),
            )
        } else {
            ("image/png", png)
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(&body).await.is_err()
        {
            return;
        }
    }
}

fn request(n: u32) -> EditRequest {
    let side = 8;
    let form = EditForm::new()
        .with(FormPart::file(
            "image",
            "photo.png",
            Some("image/png"),
            photo_png(side, side),
        ))
        .with(FormPart::file(
            "mask",
            "mask.png",
            Some("image/png"),
            openai_mask_png(side, side, (2, 2, 6, 5)),
        ))
        .with(FormPart::text("prompt", "remove it"))
        .with(FormPart::text("n", n.to_string()));
    EditRequest::from_form(form).unwrap()
}

fn client() -> UpstreamClient {
    UpstreamClient::new(UpstreamConfig::default()).unwrap()
}

fn cap(n: usize) -> ConcurrencyCap {
    ConcurrencyCap::new(NonZeroUsize::new(n).unwrap())
}

/// Runs `requests` IOPaint edits of `n` images each at once against `target`.
async fn run_iopaint(target: &ProviderTarget, requests: usize, n: u32) -> Vec<usize> {
    let client = client();
    let request = request(n);
    let edit = ModelRules::Passthrough.validate(&request).unwrap();
    let runs = (0..requests).map(|_| async {
        match Provider::IoPaint
            .edit(&request, &edit, target, &client)
            .await
            .unwrap()
        {
            ProviderOutput::Images(images) => images.images.len(),
            ProviderOutput::Stream(_) => panic!("IOPaint does not stream"),
        }
    });
    futures_util::future::join_all(runs).await
}

#[tokio::test]
async fn the_cap_bounds_fanned_out_calls_across_requests() {
    let upstream = SlowUpstream::start(Duration::from_millis(80)).await;
    let mut target = ProviderTarget::new(Some(Url::parse(&upstream.base).unwrap()), None);
    target.concurrency = Some(cap(2));
    let counts = run_iopaint(&target, 3, 4).await;
    assert_eq!(counts, vec![4, 4, 4]);
    assert_eq!(upstream.served(), 12);
    assert_eq!(
        upstream.peak(),
        2,
        "never more than max_concurrency at once"
    );
    assert_eq!(target.concurrency.as_ref().unwrap().in_use(), 0);

    // The same load without a cap does run wider (so the assertion above can fail).
    let open = SlowUpstream::start(Duration::from_millis(80)).await;
    let target = ProviderTarget::new(Some(Url::parse(&open.base).unwrap()), None);
    run_iopaint(&target, 3, 4).await;
    assert!(open.peak() > 2, "uncapped peak {}", open.peak());
}

#[tokio::test]
async fn routing_takes_the_cap_from_the_provider_entry() {
    let upstream = SlowUpstream::start(Duration::from_millis(60)).await;
    let mut settings = GatewaySettings::default();
    settings.providers.insert(
        "lama".to_owned(),
        ProviderEntry {
            provider: Provider::IoPaint,
            base_url: Some(Url::parse(&upstream.base).unwrap()),
            api_key: None,
            azure: None,
            max_concurrency: Some(cap(3)),
        },
    );
    settings.default_route = DefaultRoute::Provider("lama".to_owned());
    let engine = LocalEngine::new(LocalEngineConfig::default()).unwrap();
    let gateway = Gateway::with_settings(engine, client(), settings);
    let request = Arc::new(request(4));
    let routes = (0..4).map(|_| {
        let route = RouteRequest::new(Arc::clone(&request), CancellationToken::new());
        let gateway = gateway.clone();
        async move {
            match gateway.route(route).await.unwrap().output {
                RoutedOutput::Remote(ProviderOutput::Images(images)) => images.images.len(),
                RoutedOutput::Remote(ProviderOutput::Stream(_))
                | RoutedOutput::Local(_)
                | RoutedOutput::LocalStream(_) => panic!("expected IOPaint's images"),
            }
        }
    });
    let counts = futures_util::future::join_all(routes).await;
    assert_eq!(counts, vec![4; 4]);
    assert_eq!(upstream.served(), 16);
    assert_eq!(upstream.peak(), 3);
}

#[tokio::test]
async fn an_openai_call_holds_one_slot() {
    let upstream = SlowUpstream::start(Duration::from_millis(80)).await;
    let mut target = ProviderTarget::new(
        Some(Url::parse(&format!("{}/v1", upstream.base)).unwrap()),
        None,
    );
    target.concurrency = Some(cap(2));
    let client = client();
    let request = request(1);
    let edit = ModelRules::Passthrough.validate(&request).unwrap();
    let runs = (0..6).map(|_| Provider::OpenAiCompatible.edit(&request, &edit, &target, &client));
    for result in futures_util::future::join_all(runs).await {
        assert!(matches!(result.unwrap(), ProviderOutput::Images(_)));
    }
    assert_eq!(upstream.served(), 6);
    assert_eq!(upstream.peak(), 2);
}

#[tokio::test]
async fn waiting_for_a_slot_counts_against_the_deadline() {
    let upstream = SlowUpstream::start(Duration::from_millis(400)).await;
    let mut target = ProviderTarget::new(Some(Url::parse(&upstream.base).unwrap()), None);
    target.concurrency = Some(cap(1));
    target.timeout = Duration::from_millis(600);
    let client = client();
    let request = request(1);
    let edit = ModelRules::Passthrough.validate(&request).unwrap();
    let started = tokio::time::Instant::now();
    let (first, second) = tokio::join!(
        Provider::IoPaint.edit(&request, &edit, &target, &client),
        Provider::IoPaint.edit(&request, &edit, &target, &client),
    );
    // One gets the slot and answers in 400 ms; the other waits ~400 ms for it, then has only
    // ~200 ms of its 600 ms left for a 400 ms call: 504, at the deadline, not 400 ms later.
    let (ok, late) = match (first, second) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => ((), e),
        (Ok(_), Ok(_)) => panic!("both finished: the wait was not charged to the deadline"),
        (Err(a), Err(b)) => panic!("both failed: {a:?} / {b:?}"),
    };
    let () = ok;
    assert_eq!(late.status, 504);
    assert_eq!(late.provider.as_deref(), Some("iopaint"));
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(900),
        "gave up at the deadline, took {elapsed:?}"
    );
}
