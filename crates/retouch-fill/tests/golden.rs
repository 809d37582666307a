//! Golden checksums: the exact output bytes for fixed procedural inputs, one per option set.
//!
//! The engine is integer-only after validation, so these hold on every platform and thread
//! count. A change here means the algorithm's output changed: if that was intended, look at
//! the images (`RETOUCH_FILL_SAVE=dir cargo test -p retouch-fill --test golden`) and update
//! the hashes with the values the failure prints.

#[expect(dead_code, reason = "each test binary uses part of the shared helpers")]
mod common;

use common::{MaskKind, mask, scene, scramble_under_mask};
use retouch_fill::{FillError, FillOptions, ImageRef, MaskRef, fill};
use sha2::Digest as _;

fn golden(
    name: &str,
    w: u32,
    h: u32,
    kind: MaskKind,
    opts: &FillOptions,
) -> Result<String, FillError> {
    let m = mask(kind, w, h);
    let mut img = scene(w, h, 11);
    scramble_under_mask(&mut img, &m, 3);
    let out = fill(
        ImageRef {
            width: w,
            height: h,
            pixels: &img,
        },
        MaskRef {
            width: w,
            height: h,
            data: &m,
        },
        opts,
    )?;
    common::save_if_asked(&format!("golden-{name}"), w, h, &out.pixels);
    Ok(hex::encode(&sha2::Sha256::digest(&out.pixels)[..16]))
}

#[test]
fn golden_checksums_per_option_set() {
    let cases: [(&str, u32, u32, MaskKind, FillOptions, &str); 6] = [
        (
            "default-square",
            128,
            96,
            MaskKind::Square,
            FillOptions::new(),
            "cc5bad737d9471e897e2c292c93011a2",
        ),
        (
            "default-blob",
            160,
            120,
            MaskKind::Blob,
            FillOptions::new(),
            "f14fe3b17c7a924e1a07b48468646376",
        ),
        (
            "seed9-brush",
            140,
            100,
            MaskKind::Brush,
            FillOptions::new().seed(9),
            "c8a9944f3c7d82180fc1d3f1ae96ce19",
        ),
        (
            "patch5-scratch",
            120,
            90,
            MaskKind::Scratch,
            FillOptions::new().patch_size(5),
            "f499aee94d99be7338b0fa3a07139644",
        ),
        (
            "levels1-iter4",
            96,
            64,
            MaskKind::Square,
            FillOptions::new()
                .levels(Some(1))
                .iterations(4)
                .em_iterations(3),
            "b358fe6e6ad02a35efaab3b6d4161a4b",
        ),
        (
            "patch9-em8-fine2",
            128,
            128,
            MaskKind::Blob,
            FillOptions::new()
                .patch_size(9)
                .em_iterations(8)
                .fine_em_iterations(2),
            "8bcb6f7b603a2bb025cc025a41ec5c75",
        ),
    ];
    let mut failures = Vec::new();
    for (name, w, h, kind, opts, want) in &cases {
        let got = golden(name, *w, *h, *kind, opts).unwrap();
        if got != *want {
            failures.push(format!("{name}: got {got}, want {want}"));
        }
    }
    assert!(
        failures.is_empty(),
        "golden checksums changed:\n{}",
        failures.join("\n")
    );
}
