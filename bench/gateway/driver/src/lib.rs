//! What the mock upstream and the load generator share: the multipart body both sides agree
//! on, latency summaries from an HDR histogram, and resident-memory readings of a process tree
//! from `/proc`.

use std::collections::HashMap;
use std::fs;

use bytes::Bytes;
use hdrhistogram::Histogram;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// The boundary of the prebuilt body. Long and random-looking so no PNG byte run contains it.
pub const BOUNDARY: &str = "----retouch-bench-7f3c9a1e5b2d4068a9e1c3f5b7d9e0a2";

/// Lower-case hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            // Writing to a String cannot fail.
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// An OpenAI `images/edits` multipart body: `model`, `prompt` and `image` (the PNG, as a file
/// part) — built once and sent unchanged on every request. No `response_format`: GPT image
/// models refuse it (they always answer `b64_json`).
pub fn edit_body(png: &[u8], model: &str, prompt: &str) -> Bytes {
    let mut body = Vec::with_capacity(png.len() + 1024);
    let text = |name: &str, value: &str, body: &mut Vec<u8>| {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    text("model", model, &mut body);
    text("prompt", prompt, &mut body);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; \
             filename=\"bench.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(png);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Bytes::from(body)
}

/// The `Content-Type` header that goes with [`edit_body`].
pub fn edit_content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// Latency percentiles in milliseconds, read from a histogram recorded in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

/// A histogram for latencies from 1 µs to 10 min at 3 significant digits (0.1 % error).
pub fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

/// `VmRSS` of one process, in KiB, from the text of `/proc/PID/status`.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The parent pid from the text of `/proc/PID/stat` (the field after the parenthesised name,
/// which may itself contain spaces and parentheses).
pub fn parse_stat_ppid(stat: &str) -> Option<u32> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// `root` and every descendant of it, by walking `/proc/*/stat`.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .as_deref()
                .and_then(parse_stat_ppid)
            {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut tree = vec![root];
    let mut next = 0;
    while let Some(&pid) = tree.get(next) {
        if let Some(kids) = children.get(&pid) {
            tree.extend(kids);
        }
        next += 1;
    }
    tree
}

/// Summed `VmRSS` of the given processes in KiB (processes that exited count as 0).
pub fn tree_rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| parse_vm_rss_kib(&s))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_values() {
        let mut h = latency_histogram().unwrap();
        // 1..=100 ms: p50 is 50 ms, p90 90 ms, p99 99 ms, max 100 ms (within 0.1 %).
        for ms in 1..=100u64 {
            h.record(ms * 1000).unwrap();
        }
        let s = LatencySummary::from_histogram(&h);
        assert_eq!(s.count, 100);
        for (got, want) in [
            (s.p50_ms, 50.0),
            (s.p90_ms, 90.0),
            (s.p99_ms, 99.0),
            (s.max_ms, 100.0),
        ] {
            assert!((got - want).abs() <= want * 0.001, "{got} vs {want}");
        }
        assert!((s.mean_ms - 50.5).abs() < 0.1, "{}", s.mean_ms);
    }

    #[test]
    fn proc_fields_are_read_past_odd_process_names() {
        let status = "Name:\tnode\nVmPeak:\t  900 kB\nVmRSS:\t   51234 kB\nVmHWM:\t 60000 kB\n";
        assert_eq!(parse_vm_rss_kib(status), Some(51234));
        assert_eq!(parse_vm_rss_kib("Name:\tkthreadd\n"), None);
        let stat = "4242 (my (weird) name) S 17 4242 4242 0 -1";
        assert_eq!(parse_stat_ppid(stat), Some(17));
    }

    #[test]
    fn the_body_carries_the_image_unchanged_between_boundaries() {
        let png = b"\x89PNG\r\n\x1a\nnot really";
        let body = edit_body(png, "gpt-image-1", "a prompt");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{BOUNDARY}\r\n")));
        assert!(text.ends_with(&format!("--{BOUNDARY}--\r\n")));
        let start = body.windows(png.len()).position(|w| w == png).unwrap();
        assert_eq!(&body[start + png.len()..start + png.len() + 2], b"\r\n");
        assert!(text.contains("name=\"model\"\r\n\r\ngpt-image-1\r\n"));
    }

    #[test]
    fn the_tree_of_this_process_includes_itself() {
        let me = std::process::id();
        assert_eq!(process_tree(me).first(), Some(&me));
        assert!(tree_rss_kib(&[me]) > 0);
    }
}
