//! Decompression bombs are refused from the header, with peak memory staying small.
//!
//! Its own test binary (one process) so the process-wide peak RSS (`VmHWM`) reflects only this
//! work. A 100000×100000 RGBA PNG would need 40 GB to decode; we assert the peak grows by far
//! less than even one 16 MP image.

use std::time::Instant;

use retouch_api::{DecodeLimits, ImageError, ModelRules, decode_rgba, probe};

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A valid PNG header claiming `w`×`h` RGBA, followed by a few bytes of zlib data.
fn bomb(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Peak resident set size of this process in KiB (Linux), if readable.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn bomb_is_refused_from_the_header_without_allocating() {
    let before = peak_rss_kib();
    let start = Instant::now();
    for (w, h) in [(100_000, 100_000), (30_000, 30_000), (u32::MAX / 2, 2)] {
        let bytes = bomb(w, h);
        let info = probe(&bytes).unwrap();
        assert_eq!((info.width, info.height), (w, h));
        let err = decode_rgba(&bytes, &DecodeLimits::default()).unwrap_err();
        assert_eq!(
            err,
            ImageError::TooLarge {
                width: w,
                height: h,
                limit: 16 * 1024 * 1024
            }
        );
        let api = err.into_api("image", 1, &ModelRules::local(16 * 1024 * 1024));
        assert_eq!(api.status, 400);
        assert!(api.message.contains(&format!("{w}x{h} pixels")));
    }
    assert!(
        start.elapsed().as_secs() < 5,
        "header checks must be instant"
    );
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        let grown_mib = after.saturating_sub(before) / 1024;
        assert!(grown_mib < 32, "peak RSS grew by {grown_mib} MiB");
    }

    // One test function, so nothing else in this process moves the peak while it is measured.
    // 3000×3000 RGBA of zeros deflates to a few KiB; with a 16 MiB allocation cap it must be
    // refused rather than inflated into 36 MB.
    let pixels = vec![0u8; 3000 * 3000 * 4];
    let png =
        retouch_api::encode(&pixels, 3000, 3000, retouch_api::OutputFormat::Png, None).unwrap();
    drop(pixels);
    assert!(
        png.len() < 1024 * 1024,
        "fixture is a bomb: {} bytes",
        png.len()
    );
    let limits = DecodeLimits {
        max_pixels: 16 * 1024 * 1024,
        max_alloc: 16 * 1024 * 1024,
    };
    let err = decode_rgba(&png, &limits).unwrap_err();
    assert!(matches!(err, ImageError::MemoryLimit { .. }), "{err:?}");
}
