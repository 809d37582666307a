//! Usage records for `POST /v1/images/edits`, written off the hot path.
//!
//! The [`record`] layer counts the request body as the extractor reads it and the response
//! body as it is sent, and when the response body is dropped (fully sent, or the client went
//! away) it hands one [`UsageRecord`] to the [`UsageSink`]. The sink is a bounded queue with one
//! writer task: if the database falls behind, records are dropped (and counted in a warning)
//! rather than queued without bound or slowing requests down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt as _;
use retouch_store::{StateStore, UsageRecord};
use tokio::sync::mpsc;

use crate::auth::Caller;
use crate::middleware::RequestId;
use crate::state::AppState;

/// Records waiting for the writer; past this, new ones are dropped.
const QUEUE: usize = 4096;
/// Longest model name recorded.
const MAX_MODEL_CHARS: usize = 128;

/// What the edit handler reports about an answer, as a response extension.
#[derive(Debug, Clone, Default)]
pub(crate) struct UsageFacts {
    /// Provider that served it (`local`, `openai`, …); empty when none was reached.
    pub(crate) provider: String,
    /// Model it ran on, or the model asked for.
    pub(crate) model: String,
    /// Images produced.
    pub(crate) n: u32,
}

/// The queue to the usage writer.
#[derive(Debug)]
pub(crate) struct UsageSink {
    queue: mpsc::Sender<UsageRecord>,
    dropped: AtomicU64,
}

impl UsageSink {
    /// Starts the writer task on the current runtime. It ends when the sink is dropped.
    pub(crate) fn start(store: StateStore) -> Self {
        let (queue, mut records) = mpsc::channel::<UsageRecord>(QUEUE);
        tokio::spawn(async move {
            while let Some(record) = records.recv().await {
                if let Err(error) = store.insert_usage(&record).await {
                    tracing::warn!(%error, request_id = %record.request_id, "could not record usage");
                }
            }
        });
        Self {
            queue,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues a record, or drops it when the writer is behind.
    pub(crate) fn record(&self, record: UsageRecord) {
        if let Err(error) = self.queue.try_send(record) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // One warning per power of two keeps a slow database from flooding the log.
            if dropped.is_power_of_two() {
                let reason = match error {
                    mpsc::error::TrySendError::Full(_) => "the usage writer is behind",
                    mpsc::error::TrySendError::Closed(_) => "the usage writer stopped",
                };
                tracing::warn!(dropped, reason, "usage records dropped");
            }
        }
    }
}

/// Sends its record when dropped, i.e. when the response body is finished or abandoned.
struct Pending {
    accounts_state: AppState,
    record: UsageRecord,
    started: Instant,
    bytes_in: Arc<AtomicU64>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut record = std::mem::replace(&mut self.record, empty_record());
        record.at = SystemTime::now();
        record.latency_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        record.bytes_in = self.bytes_in.load(Ordering::Relaxed);
        if let Some(accounts) = self.accounts_state.accounts() {
            accounts.usage().record(record);
        }
    }
}

fn empty_record() -> UsageRecord {
    UsageRecord {
        request_id: String::new(),
        at: SystemTime::UNIX_EPOCH,
        provider: String::new(),
        model: String::new(),
        n: 0,
        status: 0,
        latency_ms: 0,
        bytes_in: 0,
        bytes_out: 0,
        key_id: None,
    }
}

/// Layer on the edit route: measures the exchange and records it once the answer is sent.
pub(crate) async fn record(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.accounts().is_none() {
        return next.run(request).await;
    }
    let started = Instant::now();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let key_id = request
        .extensions()
        .get::<Caller>()
        .and_then(|caller| caller.key_id.clone());
    let bytes_in = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&bytes_in);
    let request = request.map(|body| {
        Body::new(body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                counter.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            frame
        }))
    });
    let response = next.run(request).await;
    let facts = response
        .extensions()
        .get::<UsageFacts>()
        .cloned()
        .unwrap_or_default();
    let mut pending = Pending {
        accounts_state: state,
        record: UsageRecord {
            request_id,
            provider: facts.provider,
            // The model may be whatever the caller sent; keep the record small.
            model: facts.model.chars().take(MAX_MODEL_CHARS).collect(),
            n: facts.n,
            status: response.status().as_u16(),
            key_id,
            ..empty_record()
        },
        started,
        bytes_in,
    };
    response.map(|body| {
        Body::new(body.map_frame(move |frame| {
            // Borrow `pending` whole so the closure owns it (a field path alone would capture
            // only the counter, and the record would go out before the body is sent).
            let pending = &mut pending;
            if let Some(data) = frame.data_ref() {
                pending.record.bytes_out += data.len() as u64;
            }
            frame
        }))
    })
}
