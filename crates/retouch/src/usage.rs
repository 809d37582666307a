//! `retouch usage`: what the gateway served, read from the usage rows the server records (one
//! per edit request, off the hot path): a summary per gateway key, provider and model, or the
//! requests themselves.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use clap::Args;
use retouch_store::{MAX_USAGE_ROWS, UsageQuery, UsageRecord};

use crate::keys::{table, time};
use crate::state::{StateArgs, StateLocation, block_on};

/// `retouch usage …`
#[derive(Debug, Args)]
pub(crate) struct UsageArgs {
    #[command(flatten)]
    state: StateArgs,
    /// How far back to look (e.g. 30m, 24h, 7days).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    since: Duration,
    /// Only requests made with this gateway key id (gk_…).
    #[arg(long)]
    key: Option<String>,
    /// One line per request, newest first, instead of the summary.
    #[arg(long)]
    requests: bool,
    /// Read at most this many requests, newest first.
    #[arg(long, default_value_t = MAX_USAGE_ROWS)]
    limit: u32,
}

pub(crate) fn run_usage(args: UsageArgs) -> anyhow::Result<()> {
    let location = StateLocation::from_args(&args.state)?;
    block_on(async move {
        let store = location.open().await?;
        let query = UsageQuery {
            since: SystemTime::now().checked_sub(args.since),
            until: None,
            key_id: args.key.clone(),
            limit: args.limit,
        };
        let rows = store.query_usage(&query).await;
        store.close().await;
        let rows = rows?;
        let wanted = if args.limit == 0 {
            MAX_USAGE_ROWS
        } else {
            args.limit.min(MAX_USAGE_ROWS)
        };
        if rows.len() >= wanted as usize {
            eprintln!(
                "Only the newest {wanted} requests are counted; narrow --since or --key, or \
                 raise --limit (at most {MAX_USAGE_ROWS})."
            );
        }
        if args.requests {
            print_requests(&rows)
        } else {
            print_summary(&rows)
        }
    })
}

fn print_requests(rows: &[UsageRecord]) -> anyhow::Result<()> {
    let lines = rows
        .iter()
        .map(|r| {
            vec![
                time(r.at),
                r.request_id.clone(),
                r.key_id.clone().unwrap_or_else(|| "-".to_owned()),
                or_dash(&r.provider),
                or_dash(&r.model),
                r.n.to_string(),
                r.status.to_string(),
                format!("{} ms", r.latency_ms),
                size(r.bytes_in),
                size(r.bytes_out),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "AT", "REQUEST", "KEY", "PROVIDER", "MODEL", "N", "STATUS", "LATENCY", "IN", "OUT",
        ],
        &lines,
    )
}

/// One summary line's running totals.
#[derive(Debug, Default)]
struct Totals {
    requests: u64,
    failed: u64,
    images: u64,
    latencies: Vec<u64>,
    bytes_in: u64,
    bytes_out: u64,
}

fn print_summary(rows: &[UsageRecord]) -> anyhow::Result<()> {
    let mut groups: BTreeMap<(String, String, String), Totals> = BTreeMap::new();
    for r in rows {
        let key = r.key_id.clone().unwrap_or_else(|| "-".to_owned());
        let totals = groups
            .entry((key, or_dash(&r.provider), or_dash(&r.model)))
            .or_default();
        totals.requests += 1;
        if r.status >= 400 {
            totals.failed += 1;
        } else {
            totals.images += u64::from(r.n);
        }
        totals.latencies.push(r.latency_ms);
        totals.bytes_in += r.bytes_in;
        totals.bytes_out += r.bytes_out;
    }
    let lines = groups
        .into_iter()
        .map(|((key, provider, model), mut t)| {
            t.latencies.sort_unstable();
            vec![
                key,
                provider,
                model,
                t.requests.to_string(),
                t.failed.to_string(),
                t.images.to_string(),
                format!("{} ms", percentile(&t.latencies, 50)),
                format!("{} ms", percentile(&t.latencies, 95)),
                size(t.bytes_in),
                size(t.bytes_out),
            ]
        })
        .collect::<Vec<_>>();
    table(
        &[
            "KEY", "PROVIDER", "MODEL", "REQUESTS", "FAILED", "IMAGES", "P50", "P95", "IN", "OUT",
        ],
        &lines,
    )
}

/// The nearest-rank `p`th percentile of sorted `values` (0 when there are none).
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// A request refused before routing has no provider or model yet.
fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.to_owned()
    }
}

/// Bytes in the largest unit that keeps a whole number in front (B, kB, MB, GB; SI).
fn size(bytes: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "one decimal is shown")]
    let value = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", value / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", value / 1e6),
        _ => format!("{:.1} GB", value / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::{percentile, size};

    #[test]
    fn sizes_pick_their_unit() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(999), "999 B");
        assert_eq!(size(4_039_121), "4.0 MB");
        assert_eq!(size(1_500), "1.5 kB");
        assert_eq!(size(2_000_000_000), "2.0 GB");
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[7], 95), 7);
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50), 50);
        assert_eq!(percentile(&values, 95), 95);
        assert_eq!(percentile(&[1, 2, 3, 4], 50), 2);
    }
}
