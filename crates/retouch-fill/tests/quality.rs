//! Quality sanity: fills must reconstruct what a patch-based method can reconstruct —
//! periodic texture and straight edges — to an error that a smooth (diffusion-like) fill
//! cannot reach.

#[expect(dead_code, reason = "each test binary uses part of the shared helpers")]
mod common;

use common::{masked_mse, periodic, save_if_asked};
use retouch_fill::{FillError, FillOptions, ImageRef, MaskRef, fill};

/// The error of the smoothest reasonable fill: every hole pixel set to the mean known colour.
fn mean_fill_mse(img: &[u8], m: &[u8]) -> f64 {
    let mut sum = [0f64; 4];
    let mut n = 0f64;
    for (px, &mk) in img.chunks_exact(4).zip(m) {
        if mk == 0 {
            for (s, &v) in sum.iter_mut().zip(px) {
                *s += f64::from(v);
            }
            n += 1.0;
        }
    }
    let mean: Vec<u8> = sum.iter().map(|s| (s / n).round() as u8).collect();
    let mut flat = img.to_vec();
    for (px, &mk) in flat.chunks_exact_mut(4).zip(m) {
        if mk != 0 {
            px.copy_from_slice(&mean);
        }
    }
    masked_mse(&flat, img, m)
}

fn run(w: u32, h: u32, img: &[u8], m: &[u8]) -> Result<Vec<u8>, FillError> {
    let mut input = img.to_vec();
    common::scramble_under_mask(&mut input, m, 4);
    fill(
        ImageRef {
            width: w,
            height: h,
            pixels: &input,
        },
        MaskRef {
            width: w,
            height: h,
            data: m,
        },
        &FillOptions::new(),
    )
    .map(|o| o.pixels)
}

#[test]
fn periodic_texture_is_continued_through_a_square_hole() {
    let (w, h) = (160, 128);
    let img = periodic(w, h, 16);
    let m: Vec<u8> = (0..w * h)
        .map(|i| u8::from((50..98).contains(&(i % w)) && (40..88).contains(&(i / w))))
        .collect();
    let out = run(w, h, &img, &m).unwrap();
    save_if_asked("quality-periodic", w, h, &out);
    let ours = masked_mse(&out, &img, &m);
    let flat = mean_fill_mse(&img, &m);
    assert!(
        ours < flat * 0.1,
        "periodic: mse {ours:.1} vs flat fill {flat:.1}"
    );
}

#[test]
fn straight_edge_is_continued_sharply() {
    let (w, h) = (128, 128);
    // A diagonal boundary between two flat colours with mild deterministic noise.
    let mut rng = common::TestRng(5);
    let img: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            let n = rng.below(9) as u8;
            if x + y / 2 < 90 {
                [40 + n, 60 + n, 90, 255]
            } else {
                [220 - n, 200 - n, 150, 255]
            }
        })
        .collect();
    let m: Vec<u8> = (0..w * h)
        .map(|i| u8::from((44..84).contains(&(i % w)) && (44..84).contains(&(i / w))))
        .collect();
    let out = run(w, h, &img, &m).unwrap();
    save_if_asked("quality-edge", w, h, &out);
    let ours = masked_mse(&out, &img, &m);
    let flat = mean_fill_mse(&img, &m);
    // PatchMatch may bend a long edge inside a wide hole, so the bound is looser than for
    // texture; the sharpness check below is what a diffusion fill cannot pass.
    assert!(
        ours < flat * 0.5,
        "edge: mse {ours:.1} vs flat fill {flat:.1}"
    );
    // Sharp: no pixel in the hole is a half-way blend of the two sides.
    let blended = out
        .chunks_exact(4)
        .zip(&m)
        .filter(|(px, mk)| **mk != 0 && (90..=170).contains(&px[0]))
        .count();
    let holes = m.iter().filter(|&&v| v != 0).count();
    assert!(
        blended * 20 < holes,
        "{blended} of {holes} hole pixels are blends"
    );
}
