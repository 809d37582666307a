//! Usage records: one row per answered edit request — who asked (gateway key), which
//! provider and model served it, how many images, the status, latency and bytes moved.
//! Written after the response is sent; read by `retouch keys usage`-style reports.

use std::time::SystemTime;

use super::{StateStore, from_ms, to_ms, with_pool};
use crate::StoreError;

/// Most rows one [`UsageQuery`] returns.
pub const MAX_USAGE_ROWS: u32 = 10_000;

/// One request's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    /// The `x-request-id` of the request.
    pub request_id: String,
    /// When the request finished.
    pub at: SystemTime,
    /// Provider that served it (`local`, `openai`, …).
    pub provider: String,
    /// Model it ran on.
    pub model: String,
    /// Images produced.
    pub n: u32,
    /// HTTP status answered.
    pub status: u16,
    /// Time from request to response, in milliseconds.
    pub latency_ms: u64,
    /// Request body bytes.
    pub bytes_in: u64,
    /// Response body bytes.
    pub bytes_out: u64,
    /// Gateway key id (`gk_…`) that authenticated the request, if any.
    pub key_id: Option<String>,
}

/// Which usage rows to read: newest first, within `[since, until)`, optionally for one key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageQuery {
    /// Only rows at or after this time.
    pub since: Option<SystemTime>,
    /// Only rows before this time.
    pub until: Option<SystemTime>,
    /// Only rows for this gateway key id.
    pub key_id: Option<String>,
    /// At most this many rows (0 or more than [`MAX_USAGE_ROWS`] means [`MAX_USAGE_ROWS`]).
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
struct UsageRow {
    request_id: String,
    at: i64,
    provider: String,
    model: String,
    n: i64,
    status: i64,
    latency_ms: i64,
    bytes_in: i64,
    bytes_out: i64,
    key_id: Option<String>,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl From<UsageRow> for UsageRecord {
    fn from(r: UsageRow) -> Self {
        Self {
            request_id: r.request_id,
            at: from_ms(r.at),
            provider: r.provider,
            model: r.model,
            n: u32::try_from(r.n).unwrap_or(0),
            status: u16::try_from(r.status).unwrap_or(0),
            latency_ms: u64::try_from(r.latency_ms).unwrap_or(0),
            bytes_in: u64::try_from(r.bytes_in).unwrap_or(0),
            bytes_out: u64::try_from(r.bytes_out).unwrap_or(0),
            key_id: r.key_id,
        }
    }
}

impl StateStore {
    /// Records one request's usage.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn insert_usage(&self, record: &UsageRecord) -> Result<(), StoreError> {
        let sql = "INSERT INTO usage_records \
                   (request_id, at, provider, model, n, status, latency_ms, bytes_in, bytes_out, key_id) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&record.request_id)
            .bind(to_ms(record.at))
            .bind(&record.provider)
            .bind(&record.model)
            .bind(i64::from(record.n))
            .bind(i64::from(record.status))
            .bind(to_i64(record.latency_ms))
            .bind(to_i64(record.bytes_in))
            .bind(to_i64(record.bytes_out))
            .bind(record.key_id.as_deref())
            .execute(pool)
            .await
            .map(drop))
        .map_err(StoreError::Database)
    }

    /// Usage rows matching `query`, newest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn query_usage(&self, query: &UsageQuery) -> Result<Vec<UsageRecord>, StoreError> {
        let limit = match query.limit {
            0 => MAX_USAGE_ROWS,
            n => n.min(MAX_USAGE_ROWS),
        };
        let since = query.since.map_or(i64::MIN, to_ms);
        let until = query.until.map_or(i64::MAX, to_ms);
        let sql = "SELECT request_id, at, provider, model, n, status, latency_ms, bytes_in, bytes_out, key_id \
                   FROM usage_records \
                   WHERE at >= $1 AND at < $2 AND ($3 IS NULL OR key_id = $3) \
                   ORDER BY at DESC, seq DESC LIMIT $4";
        let rows: Vec<UsageRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(since)
            .bind(until)
            .bind(query.key_id.as_deref())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)
        .map_err(StoreError::Database)?;
        Ok(rows.into_iter().map(UsageRecord::from).collect())
    }
}
