//! Fills a PNG/JPEG for eyeballing and timing.
//!
//! `cargo run --release -p retouch-fill --example fill -- IN.png MASK OUT.png [seed] [runs]`
//! where MASK is `square`, `blob`, `scratch`, `brush` (synthetic, like the benchmark's) or a
//! mask image path (white or alpha 0 = fill). Writes OUT.png and OUT-mask.png (the input
//! with the mask painted magenta), and prints the median fill time to stderr.

#[path = "../tests/common/mod.rs"]
#[expect(dead_code, reason = "the example uses only the masks")]
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
    common::scramble_under_mask(&mut pixels, &mask, 1);
    let mut shown = pixels.clone();
    for (px, &m) in shown.chunks_exact_mut(4).zip(&mask) {
        if m != 0 {
            px.copy_from_slice(&[255, 0, 255, 255]);
        }
    }
    let options = FillOptions::new().seed(seed);
    let mut filler = Filler::new();
    let mut times = Vec::new();
    let mut out = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
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
            &mut |_| std::ops::ControlFlow::Continue(()),
        )?;
        times.push(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    times.sort_by(f64::total_cmp);
    let hole = mask.iter().filter(|&&m| m != 0).count() as f64 / mask.len() as f64;
    eprintln!(
        "{w}x{h} hole {:.1}%: median {:.1} ms over {} runs",
        hole * 100.0,
        times[times.len() / 2] * 1000.0,
        times.len()
    );
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
