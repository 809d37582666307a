//! Fills a PNG/JPEG for eyeballing and timing.
//!
//! `cargo run --release -p retouch-fill --example fill -- IN.png MASK OUT.png [seed] [runs]`
//! where MASK is `square`, `blob`, `scratch`, `brush` (synthetic, like the benchmark's) or a
//! mask image path (white or alpha 0 = fill). Writes OUT.png and OUT-mask.png (the input
//! with the mask painted magenta), and prints the median fill time to stderr.
//! `RETOUCH_FILL_LEVELS=1` also writes every pyramid level's estimate as `OUT-levelN.png`.

#[path = "../tests/common/mod.rs"]
#[expect(dead_code, reason = "the example uses only part of the helpers")]
mod common;

use std::time::Instant;

use retouch_fill::{FillOptions, Filler, ImageRef, MaskRef};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, mask_arg, output, rest @ ..] = args.as_slice() else {
        return Err("usage: fill IN MASK OUT [seed] [runs]".into());
    };
    let seed: u64 = rest.first().map_or(Ok(0), |s| s.parse())?;
    let runs: usize = rest.get(1).map_or(Ok(1), |s| s.parse())?;
    let img = image::open(input)?.to_rgba8();
    let (w, h) = img.dimensions();
    let mask = match common::MaskKind::parse(mask_arg) {
        Some(kind) => common::mask(kind, w, h),
        None => {
            let m = image::open(mask_arg)?.to_rgba8();
            m.pixels()
                .map(|p| u8::from(p.0[3] == 0 || (p.0[0] > 127 && p.0[3] > 0)))
                .collect()
        }
    };
    let mut pixels = img.into_raw();
    let original = pixels.clone();
    common::scramble_under_mask(&mut pixels, &mask, 1);
    let mut shown = pixels.clone();
    for (px, &m) in shown.chunks_exact_mut(4).zip(&mask) {
        if m != 0 {
            px.copy_from_slice(&[255, 0, 255, 255]);
        }
    }
    // Tuning knobs for experiments: RETOUCH_FILL_OPTS="patch em fine_em iterations [min_level_size]".
    let mut options = FillOptions::new().seed(seed);
    if std::env::var_os("RETOUCH_FILL_SERIAL").is_some() {
        options = options.parallel(false);
    }
    if let Ok(knobs) = std::env::var("RETOUCH_FILL_OPTS") {
        let v: Vec<u32> = knobs
            .split_whitespace()
            .filter_map(|k| k.parse().ok())
            .collect();
        if let [p, em, fine, it, rest @ ..] = v.as_slice() {
            options = options
                .patch_size(*p)
                .em_iterations(*em)
                .fine_em_iterations(*fine)
                .iterations(*it);
            if let Some(&min_side) = rest.first() {
                options = options.min_level_size(min_side);
            }
        }
    }
    let mut filler = Filler::new();
    let mut times = Vec::new();
    let mut out = None;
    let mut cpu = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let c = thread_cpu_ns();
        let r = filler.fill(
            ImageRef {
                width: w,
                height: h,
                pixels: &pixels,
            },
            MaskRef {
                width: w,
                height: h,
                data: &mask,
            },
            &options,
            &mut |p| {
                // RETOUCH_FILL_LEVELS=1 writes each level's estimate as OUT-levelN.png.
                if std::env::var_os("RETOUCH_FILL_LEVELS").is_some()
                    && let Some(img) = image::RgbaImage::from_raw(
                        p.image.width,
                        p.image.height,
                        p.image.pixels.to_vec(),
                    )
                {
                    let name = output.replace(".png", &format!("-level{}.png", p.level));
                    if let Err(e) = img.save(&name) {
                        eprintln!("{name}: {e}");
                    }
                }
                std::ops::ControlFlow::Continue(())
            },
        )?;
        times.push(t.elapsed().as_secs_f64());
        cpu.push(thread_cpu_ns().saturating_sub(c) as f64 / 1e6);
        out = Some(r);
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let hole = mask.iter().filter(|&&m| m != 0).count() as f64 / mask.len() as f64;
    eprintln!(
        "{w}x{h} hole {:.1}%: median {:.1} ms (calling thread cpu {:.1} ms) over {} runs",
        hole * 100.0,
        times[times.len() / 2] * 1000.0,
        cpu[cpu.len() / 2],
        times.len()
    );
    if let Some(out) = &out {
        let mse = common::masked_mse(&out.pixels, &original, &mask);
        eprintln!(
            "masked PSNR {:.2} dB",
            10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
        );
    }
    if let Some(out) = out {
        image::RgbaImage::from_raw(w, h, out.pixels)
            .ok_or("bad output size")?
            .save(output)?;
        let masked = output.replace(".png", "-mask.png");
        image::RgbaImage::from_raw(w, h, shown)
            .ok_or("bad size")?
            .save(masked)?;
    }
    Ok(())
}

/// CPU time of the calling thread in nanoseconds (Linux), 0 elsewhere: with
/// `RETOUCH_FILL_SERIAL` set this is the fill's CPU cost, undisturbed by other load.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
