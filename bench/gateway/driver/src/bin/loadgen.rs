//! The load generator: sends one prebuilt 4 MB-class `images/edits` multipart body at a fixed
//! concurrency, records each request's latency (send to last response byte) in an HDR
//! histogram, checks every answer is a 200 `ImagesResponse` with an image, and optionally
//! samples the resident memory of a gateway's process tree every few milliseconds meanwhile.
//! Prints one JSON object on stdout.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use gateway_bench_driver::{
    LatencySummary, edit_body, edit_content_type, latency_histogram, process_tree, sha256_hex,
    tree_rss_kib,
};
use hdrhistogram::Histogram;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use tokio::sync::Mutex;

#[derive(Debug, Parser)]
struct Args {
    /// The edits endpoint, e.g. http://127.0.0.1:8787/v1/images/edits.
    #[arg(long)]
    url: String,
    /// The PNG sent as the `image` part.
    #[arg(long)]
    image: PathBuf,
    #[arg(long, default_value = "gpt-image-1")]
    model: String,
    #[arg(long, default_value = "remove the bench from the photo")]
    prompt: String,
    /// Extra request header, `name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Requests kept in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Measured requests.
    #[arg(long, default_value_t = 100)]
    requests: u64,
    /// Unmeasured requests sent first (same concurrency).
    #[arg(long, default_value_t = 10)]
    warmup: u64,
    /// Pause between warm-up and the measured phase (lets the gateway settle before the idle
    /// memory reading).
    #[arg(long, default_value_t = 0)]
    settle_ms: u64,
    /// Sample the resident memory of this process and its descendants during the measured phase.
    #[arg(long)]
    watch_pid: Option<u32>,
    /// Memory sampling interval.
    #[arg(long, default_value_t = 5)]
    sample_ms: u64,
    /// Per-request timeout.
    #[arg(long, default_value_t = 120)]
    timeout_s: u64,
}

#[derive(Debug, Default)]
struct Tally {
    statuses: BTreeMap<String, u64>,
    ok: u64,
    bad_body: u64,
    transport_errors: u64,
    first_failure: Option<String>,
}

#[derive(Debug, Serialize)]
struct Memory {
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    samples: u64,
    processes: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    url: String,
    model: String,
    concurrency: usize,
    requests: u64,
    warmup: u64,
    payload_bytes: usize,
    image_bytes: usize,
    image_sha256: String,
    elapsed_s: f64,
    throughput_rps: f64,
    latency: LatencySummary,
    /// Every measured latency in µs, in completion order per worker, so runs split into
    /// interleaved rounds can be merged exactly.
    latencies_us: Vec<u64>,
    statuses: BTreeMap<String, u64>,
    ok: u64,
    bad_body: u64,
    transport_errors: u64,
    first_failure: Option<String>,
    memory: Option<Memory>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let png = std::fs::read(&args.image).with_context(|| format!("reading {:?}", args.image))?;
    let body = edit_body(&png, &args.model, &args.prompt);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_str(&edit_content_type())?);
    for line in &args.headers {
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("header {line:?} is not `name: value`"))?;
        headers.insert(
            HeaderName::from_bytes(name.trim().as_bytes())?,
            HeaderValue::from_str(value.trim())?,
        );
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(args.timeout_s))
        .build()?;
    let job = Arc::new(Job {
        client,
        url: args.url.clone(),
        headers,
        body: body.clone(),
    });

    let warm = Tally::default();
    let warm = Arc::new(Mutex::new(warm));
    run_phase(&job, args.concurrency, args.warmup, &warm).await?;
    if args.settle_ms > 0 {
        tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    }

    let sampler = args
        .watch_pid
        .map(|pid| Sampler::start(pid, args.sample_ms));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let (histogram, latencies_us) =
        run_phase(&job, args.concurrency, args.requests, &tally).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let memory = match sampler {
        Some(sampler) => Some(sampler.stop().await?),
        None => None,
    };
    let tally = std::mem::take(&mut *tally.lock().await);
    let report = Report {
        url: args.url,
        model: args.model,
        concurrency: args.concurrency,
        requests: args.requests,
        warmup: args.warmup,
        payload_bytes: body.len(),
        image_bytes: png.len(),
        image_sha256: sha256_hex(&png),
        elapsed_s: elapsed,
        throughput_rps: args.requests as f64 / elapsed.max(f64::EPSILON),
        latency: LatencySummary::from_histogram(&histogram),
        latencies_us,
        statuses: tally.statuses,
        ok: tally.ok,
        bad_body: tally.bad_body,
        transport_errors: tally.transport_errors,
        first_failure: tally.first_failure,
        memory,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

#[derive(Debug)]
struct Job {
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
    body: Bytes,
}

/// Sends `total` requests with `concurrency` workers; returns their latencies (µs), as a
/// histogram and as recorded.
async fn run_phase(
    job: &Arc<Job>,
    concurrency: usize,
    total: u64,
    tally: &Arc<Mutex<Tally>>,
) -> anyhow::Result<(Histogram<u64>, Vec<u64>)> {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (job, next, tally) = (Arc::clone(job), Arc::clone(&next), Arc::clone(tally));
        workers.push(tokio::spawn(async move {
            let mut local = latency_histogram()?;
            let mut raw = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let started = Instant::now();
                let outcome = job.send().await;
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                local.saturating_record(micros.max(1));
                raw.push(micros);
                tally.lock().await.count(outcome);
            }
            anyhow::Ok((local, raw))
        }));
    }
    let mut merged = latency_histogram()?;
    let mut all = Vec::new();
    for worker in workers {
        let (histogram, raw) = worker.await??;
        merged.add(histogram)?;
        all.extend(raw);
    }
    Ok((merged, all))
}

/// One request's result: the status and whether the body was an `ImagesResponse` with an image.
enum Outcome {
    Answered {
        status: u16,
        image: bool,
        body: Bytes,
    },
    Transport(String),
}

impl Job {
    async fn send(&self) -> Outcome {
        let sent = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .body(self.body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Outcome::Transport(error.to_string()),
        };
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(body) => Outcome::Answered {
                status,
                image: has_image(&body),
                body,
            },
            Err(error) => Outcome::Transport(error.to_string()),
        }
    }
}

fn has_image(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| {
        v.pointer("/data/0/b64_json")
            .and_then(|b| b.as_str())
            .is_some_and(|b| !b.is_empty())
    })
}

impl Tally {
    fn count(&mut self, outcome: Outcome) {
        let failure = match outcome {
            Outcome::Answered {
                status,
                image,
                body,
            } => {
                *self.statuses.entry(status.to_string()).or_default() += 1;
                match (status, image) {
                    (200, true) => {
                        self.ok += 1;
                        None
                    }
                    (200, false) => {
                        self.bad_body += 1;
                        Some(format!("200 without an image: {}", snippet(&body)))
                    }
                    (other, _) => Some(format!("HTTP {other}: {}", snippet(&body))),
                }
            }
            Outcome::Transport(error) => {
                self.transport_errors += 1;
                Some(format!("transport: {error}"))
            }
        };
        if self.first_failure.is_none() {
            self.first_failure = failure;
        }
    }
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(600)]).into_owned()
}

/// Samples a process tree's summed RSS on a plain thread until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    idle_rss_kib: u64,
    thread: tokio::task::JoinHandle<(u64, u64, usize)>,
}

impl Sampler {
    fn start(pid: u32, every_ms: u64) -> Self {
        let tree = process_tree(pid);
        let idle_rss_kib = tree_rss_kib(&tree);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = tokio::task::spawn_blocking(move || {
            let (mut peak, mut samples, mut tree) = (0u64, 0u64, tree);
            let mut last_walk = Instant::now();
            loop {
                // Re-walk the tree now and then: a gateway may fork workers under load.
                if last_walk.elapsed() > Duration::from_millis(250) {
                    tree = process_tree(pid);
                    last_walk = Instant::now();
                }
                peak = peak.max(tree_rss_kib(&tree));
                samples += 1;
                if flag.load(Ordering::Relaxed) {
                    return (peak, samples, tree.len());
                }
                std::thread::sleep(Duration::from_millis(every_ms));
            }
        });
        Self {
            stop,
            idle_rss_kib,
            thread,
        }
    }

    async fn stop(self) -> anyhow::Result<Memory> {
        self.stop.store(true, Ordering::Relaxed);
        let (peak, samples, processes) = self.thread.await?;
        Ok(Memory {
            idle_rss_kib: self.idle_rss_kib,
            peak_rss_kib: peak,
            samples,
            processes,
        })
    }
}
