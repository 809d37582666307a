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
    run_with(w, h, img, m, &FillOptions::new())
}

fn run_with(
    w: u32,
    h: u32,
    img: &[u8],
    m: &[u8],
    options: &FillOptions,
) -> Result<Vec<u8>, FillError> {
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
        options,
    )
    .map(|o| o.pixels)
}

/// Fills a 48 px square hole in a 160×128 checker texture of the given period with seeds
/// 0..8 and returns `(seed, mse, flat-fill mse)` for every seed whose fill is not a
/// continuation (an error of 10% of a flat fill's or more). One wrong-phase cell of the
/// high-contrast checker is enough to miss, so every seed must get the whole hole in phase.
fn periodic_misses(period: u32, options: FillOptions) -> Result<Vec<(u64, f64, f64)>, FillError> {
    let (w, h) = (160, 128);
    let img = periodic(w, h, period);
    let m: Vec<u8> = (0..w * h)
        .map(|i| u8::from((50..98).contains(&(i % w)) && (40..88).contains(&(i / w))))
        .collect();
    let flat = mean_fill_mse(&img, &m);
    let mut misses = Vec::new();
    for seed in 0..8 {
        let out = run_with(w, h, &img, &m, &options.clone().seed(seed))?;
        save_if_asked(&format!("quality-periodic{period}-seed{seed}"), w, h, &out);
        let ours = masked_mse(&out, &img, &m);
        if ours >= flat * 0.1 {
            misses.push((seed, ours, flat));
        }
    }
    Ok(misses)
}

#[test]
fn periodic_texture_is_continued_through_a_square_hole() {
    // The period is 6 px at the 80×64 coarsest level, so one 7 px patch spans it.
    let misses = periodic_misses(12, FillOptions::new()).unwrap();
    assert!(
        misses.is_empty(),
        "period 12, (seed, mse, flat): {misses:?}"
    );
}

#[test]
fn a_longer_period_is_continued_with_a_larger_patch() {
    // 8 px at the coarsest level: a 7 px patch cannot tell the phase (9 of 24 seeds measured
    // left a wrong-phase cell), a 9 px one can (none of 24).
    let misses = periodic_misses(16, FillOptions::new().patch_size(9)).unwrap();
    assert!(
        misses.is_empty(),
        "period 16, (seed, mse, flat): {misses:?}"
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

/// The share of the hole's pixels more than `margin` rows below the scene's horizon (40% of
/// the height, see `common::scene`) that came out sky (bluer than red), and the share of
/// those more than `margin` rows above it that came out wall.
fn horizon_misses(out: &[u8], m: &[u8], w: u32, h: u32, margin: u32) -> (f64, f64) {
    let horizon = h * 2 / 5;
    let (mut below, mut sky_below, mut above, mut wall_above) = (0u32, 0u32, 0u32, 0u32);
    for (i, (px, &mk)) in out.chunks_exact(4).zip(m).enumerate() {
        let y = i as u32 / w;
        if mk == 0 {
            continue;
        }
        let sky = px[2] > px[0];
        if y >= horizon + margin {
            below += 1;
            sky_below += u32::from(sky);
        } else if y + margin < horizon {
            above += 1;
            wall_above += u32::from(!sky);
        }
    }
    (
        f64::from(sky_below) / f64::from(below.max(1)),
        f64::from(wall_above) / f64::from(above.max(1)),
    )
}

#[test]
fn wall_and_sky_keep_their_horizon_through_a_large_hole() {
    // A blob over the horizon of a brick wall under a sky: a smooth start blends the two,
    // and without the straight continuation of the coarsest level the sky settled into
    // 22–65% of the hole below the horizon at these sizes.
    for (w, h, seed) in [(256, 192, 1), (512, 384, 2), (384, 512, 3)] {
        let img = common::scene(w, h, 21);
        let m = common::mask(common::MaskKind::Blob, w, h);
        let out = run_with(w, h, &img, &m, &FillOptions::new().seed(seed)).unwrap();
        save_if_asked(&format!("quality-horizon-{w}x{h}"), w, h, &out);
        let (sky_below, wall_above) = horizon_misses(&out, &m, w, h, h / 48);
        assert!(
            sky_below < 0.05 && wall_above < 0.05,
            "{w}x{h}: sky below the horizon {sky_below:.3}, wall above it {wall_above:.3}"
        );
    }
}

/// Σ of squared horizontal and vertical differences of the green channel between
/// neighbouring pixels that are both in the hole: the gradient energy the benchmark scores.
fn hole_gradient_energy(img: &[u8], m: &[u8], w: usize) -> f64 {
    let g = |i: usize| f64::from(img.get(i * 4 + 1).copied().unwrap_or(0));
    let hole = |i: usize| m.get(i).is_some_and(|&v| v != 0);
    (0..m.len())
        .filter(|&i| hole(i))
        .map(|i| {
            let right = (i % w + 1 < w && hole(i + 1)).then(|| (g(i + 1) - g(i)).powi(2));
            let down = hole(i + w).then(|| (g(i + w) - g(i)).powi(2));
            right.unwrap_or(0.0) + down.unwrap_or(0.0)
        })
        .sum()
}

/// Fills a 56×56 square in the middle of a 192×160 texture and returns the hole's
/// gradient-energy ratio, fill over truth (1.0 = as busy as the original; blur is below).
fn square_hole_gradient_ratio(name: &str, img: &[u8]) -> Result<f64, FillError> {
    let (w, h) = (192usize, 160usize);
    let m: Vec<u8> = (0..w * h)
        .map(|i| u8::from((70..126).contains(&(i % w)) && (52..108).contains(&(i / w))))
        .collect();
    let out = run(w as u32, h as u32, img, &m)?;
    save_if_asked(name, w as u32, h as u32, &out);
    Ok(hole_gradient_energy(&out, &m, w) / hole_gradient_energy(img, &m, w))
}

#[test]
fn grain_texture_keeps_its_gradient_energy() {
    // Fine grain with no period and no structure: a fill that averages (diffusion, or
    // patch votes that disagree) flattens it; one that copies texture keeps it.
    let (w, h) = (192usize, 160usize);
    let mut rng = common::TestRng(11);
    let noise: Vec<u8> = (0..w * h).map(|_| 70 + rng.below(110) as u8).collect();
    // A 2-pixel box blur makes it grain rather than per-pixel noise, like film or sand.
    let img: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            let at = |dx: usize, dy: usize| {
                u32::from(noise[(y + dy).min(h - 1) * w + (x + dx).min(w - 1)])
            };
            let v = ((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4) as u8;
            [v / 2 + 60, v, v / 3 + 40, 255]
        })
        .collect();
    let ratio = square_hole_gradient_ratio("quality-grain", &img).unwrap();
    // The benchmark's target band. Measured 1.04 with the best-patch reconstruction and
    // 0.90 with averaged votes only; a flat or diffused fill is far below 0.75.
    assert!(
        (0.75..=1.25).contains(&ratio),
        "gradient-energy ratio {ratio:.2}"
    );
}

#[test]
#[ignore = "known weakness: the fill settles on flat stone interiors, and the seam blending \
            turns the flat copy into a smooth blob (ratio 0.06; 0.23 with the onion-peel start \
            instead of pull-push, which measured worse on the benchmark photos)"]
fn stone_texture_keeps_its_gradient_energy() {
    // Irregular stones (Voronoi cells of random points) with dark gaps between them: the
    // flat stone interiors are the closest match to a smooth first estimate, so a fill
    // that compares colour alone settles on a single flat stone.
    let (w, h) = (192usize, 160usize);
    let mut rng = common::TestRng(11);
    let seeds: Vec<(i64, i64, u8)> = (0..90)
        .map(|_| {
            let x = i64::from(rng.below(w as u32));
            let y = i64::from(rng.below(h as u32));
            (x, y, 110 + rng.below(120) as u8)
        })
        .collect();
    let img: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            let mut d = seeds
                .iter()
                .map(|&(sx, sy, v)| ((sx - x).pow(2) + (sy - y).pow(2), v))
                .collect::<Vec<_>>();
            d.sort_unstable();
            let (Some(&(d0, v)), Some(&(d1, _))) = (d.first(), d.get(1)) else {
                return [0, 0, 0, 255];
            };
            // Distance gap to the second-nearest seed: under 1.5 px is the dark border.
            let gap = (d1 as f64).sqrt() - (d0 as f64).sqrt();
            let v = if gap < 1.5 { 35 } else { v };
            [v, v / 2 + 40, v / 3 + 30, 255]
        })
        .collect();
    let ratio = square_hole_gradient_ratio("quality-stones", &img).unwrap();
    assert!(
        (0.75..=1.25).contains(&ratio),
        "gradient-energy ratio {ratio:.2}"
    );
}
