//! The Rust side of the fill benchmark: runs one job — one engine on one image and mask,
//! repeated — and prints a JSON line with the wall time of every fill call and the process's
//! resident memory before and after the fills.
//!
//! Usage: `fill-bench-driver JOB.json`. The job names the engine (`retouch`,
//! `texture-synthesis` or `inpaint-telea`), the RGB(A) PNG image, the mask PNG (nonzero = fill),
//! the output PNG, how many repeats to run, a time budget after which no further repeat starts,
//! and a seed. Only the fill call is timed: decoding, the engine-specific input conversions and
//! encoding happen outside the clock. `bench/fill/bench.py` starts one process per job so that
//! every job's peak RSS is its own.

use std::fs;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Job {
    engine: Engine,
    image: PathBuf,
    mask: PathBuf,
    output: PathBuf,
    repeats: u32,
    budget_s: f64,
    seed: u64,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Engine {
    Retouch,
    TextureSynthesis,
    InpaintTelea,
}

#[derive(Debug, Serialize)]
struct Outcome {
    times_s: Vec<f64>,
    /// `VmHWM` once the inputs are decoded and converted, before the first fill.
    rss_before_fill_kib: u64,
    /// `VmHWM` after the last fill: the process's peak resident set.
    rss_peak_kib: u64,
}

/// The decoded inputs every engine starts from.
struct Inputs {
    width: u32,
    height: u32,
    /// RGBA8, alpha 255 everywhere (the bench's photographs are opaque).
    rgba: Vec<u8>,
    /// One byte per pixel, nonzero = fill.
    mask: Vec<u8>,
}

fn main() -> Result<()> {
    let path = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .context("usage: fill-bench-driver JOB.json")?,
    );
    let job: Job = serde_json::from_slice(
        &fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .context("parsing the job")?;
    let inputs = load(&job)?;
    let outcome = match job.engine {
        Engine::Retouch => run_retouch(&job, &inputs)?,
        Engine::TextureSynthesis => run_texture_synthesis(&job, &inputs)?,
        Engine::InpaintTelea => run_inpaint_telea(&job, &inputs)?,
    };
    let line = serde_json::to_string(&outcome)?;
    // The one line on stdout is the driver's answer to bench.py.
    #[expect(clippy::print_stdout, reason = "stdout is the driver's protocol")]
    {
        println!("{line}");
    }
    Ok(())
}

fn load(job: &Job) -> Result<Inputs> {
    let image = image::open(&job.image)
        .with_context(|| format!("decoding {}", job.image.display()))?
        .to_rgba8();
    let mask = image::open(&job.mask)
        .with_context(|| format!("decoding {}", job.mask.display()))?
        .to_luma8();
    if image.dimensions() != mask.dimensions() {
        bail!(
            "image is {:?} but mask is {:?}",
            image.dimensions(),
            mask.dimensions()
        );
    }
    let (width, height) = image.dimensions();
    Ok(Inputs {
        width,
        height,
        rgba: image.into_raw(),
        mask: mask.into_raw(),
    })
}

/// Calls `fill` up to `job.repeats` times, starting no new call once `job.budget_s` has passed,
/// and returns the wall time of each call with the last call's result. `setup` makes each
/// call's owned inputs (copies for engines that consume or overwrite them) outside the clock.
fn repeat<S, T>(
    job: &Job,
    mut setup: impl FnMut() -> S,
    mut fill: impl FnMut(S) -> Result<T>,
) -> Result<(Vec<f64>, T)> {
    let budget = Duration::from_secs_f64(job.budget_s.max(0.0));
    let started = Instant::now();
    let mut times = Vec::new();
    loop {
        let input = setup();
        let t0 = Instant::now();
        let out = fill(input)?;
        times.push(t0.elapsed().as_secs_f64());
        let done = u32::try_from(times.len()).unwrap_or(u32::MAX);
        if done >= job.repeats || started.elapsed() >= budget {
            return Ok((times, out));
        }
    }
}

fn run_retouch(job: &Job, inputs: &Inputs) -> Result<Outcome> {
    let image = retouch_fill::ImageRef {
        width: inputs.width,
        height: inputs.height,
        pixels: &inputs.rgba,
    };
    let mask = retouch_fill::MaskRef {
        width: inputs.width,
        height: inputs.height,
        data: &inputs.mask,
    };
    let options = retouch_fill::FillOptions::new().seed(job.seed);
    // One Filler for all repeats, as a server worker keeps one: its buffers are reused.
    let mut filler = retouch_fill::Filler::new();
    let rss_before = peak_rss_kib()?;
    let (times, out) = repeat(
        job,
        || (),
        |()| {
            filler
                .fill(image, mask, &options, &mut |_| ControlFlow::Continue(()))
                .map_err(anyhow::Error::from)
        },
    )?;
    let rss_peak = peak_rss_kib()?;
    save_rgba(job, out.width, out.height, out.pixels)?;
    Ok(Outcome {
        times_s: times,
        rss_before_fill_kib: rss_before,
        rss_peak_kib: rss_peak,
    })
}

fn run_texture_synthesis(job: &Job, inputs: &Inputs) -> Result<Outcome> {
    use texture_synthesis as ts;
    let example = image023::RgbaImage::from_raw(inputs.width, inputs.height, inputs.rgba.clone())
        .context("image buffer size")?;
    // texture-synthesis resolves pixels whose mask value is 255 and fills all others.
    let keep: Vec<u8> = inputs
        .mask
        .iter()
        .map(|&m| if m == 0 { 255 } else { 0 })
        .collect();
    let keep = image023::GrayImage::from_raw(inputs.width, inputs.height, keep)
        .context("mask buffer size")?;
    let example = image023::DynamicImage::ImageRgba8(example);
    let keep = image023::DynamicImage::ImageLuma8(keep);
    let dims = ts::Dims::new(inputs.width, inputs.height);
    let rss_before = peak_rss_kib()?;
    // The session consumes its images, so each repeat gets copies, made outside the clock.
    let copies = || (example.clone(), keep.clone(), keep.clone());
    let (times, out) = repeat(job, copies, |(example, keep, sample_from)| {
        // The keep-mask also restricts sampling to known pixels: without it the synthesis
        // copies from whatever the example holds inside the hole.
        let source = ts::Example::builder(ts::ImageSource::Image(example))
            .set_sample_method(ts::ImageSource::Image(sample_from));
        // Building resolves the image pyramids, part of the algorithm's work: timed.
        let session = ts::Session::builder()
            .inpaint_example(ts::ImageSource::Image(keep), source, dims)
            .seed(job.seed)
            .build()
            .map_err(|e| anyhow::anyhow!("texture-synthesis: {e}"))?;
        Ok(session.run(None).into_image().into_rgba8())
    })?;
    let rss_peak = peak_rss_kib()?;
    let (w, h) = out.dimensions();
    save_rgba(job, w, h, out.into_raw())?;
    Ok(Outcome {
        times_s: times,
        rss_before_fill_kib: rss_before,
        rss_peak_kib: rss_peak,
    })
}

fn run_inpaint_telea(job: &Job, inputs: &Inputs) -> Result<Outcome> {
    use inpaint::ImageInpaint as _;
    let rgb: Vec<u8> = inputs
        .rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let source =
        image::RgbImage::from_raw(inputs.width, inputs.height, rgb).context("image buffer size")?;
    let mask = image::GrayImage::from_raw(inputs.width, inputs.height, inputs.mask.clone())
        .context("mask buffer size")?;
    let rss_before = peak_rss_kib()?;
    // Telea works in place, so every repeat fills a fresh copy, made outside the clock.
    let (times, out) = repeat(
        job,
        || source.clone(),
        |mut image| {
            image
                .telea_inpaint(&mask, TELEA_RADIUS)
                .map_err(|e| anyhow::anyhow!("inpaint: {e:?}"))?;
            Ok(image)
        },
    )?;
    let rss_peak = peak_rss_kib()?;
    let rgba: Vec<u8> = out.pixels().flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    save_rgba(job, inputs.width, inputs.height, rgba)?;
    Ok(Outcome {
        times_s: times,
        rss_before_fill_kib: rss_before,
        rss_peak_kib: rss_peak,
    })
}

/// The neighbourhood radius given to every Telea implementation in the bench: 3, as in
/// `OpenCV`'s documented example.
const TELEA_RADIUS: i32 = 3;

fn save_rgba(job: &Job, width: u32, height: u32, pixels: Vec<u8>) -> Result<()> {
    let image = image::RgbaImage::from_raw(width, height, pixels).context("output buffer size")?;
    image
        .save(&job.output)
        .with_context(|| format!("writing {}", job.output.display()))
}

/// The process's peak resident set (`VmHWM`) in KiB, from `/proc/self/status`.
fn peak_rss_kib() -> Result<u64> {
    let status = fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?;
    let kib = line.trim().trim_end_matches("kB").trim();
    kib.parse().with_context(|| format!("VmHWM {kib:?}"))
}
