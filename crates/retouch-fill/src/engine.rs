//! `Filler`: the coarse-to-fine driver. Builds the pyramid, and at each level runs
//! PatchMatch search and patch voting (EM) over the target region, in parallel bands with a
//! fixed schedule so the output depends only on the input and the seed.

use std::ops::ControlFlow;

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;
use rayon::prelude::*;

use crate::image::validate;
use crate::kernels::{self, Field, NONE, Neighbours, TEX_CHANNELS, Vote};
use crate::lines;
use crate::maps::HoleSums;
use crate::par;
use crate::pyramid::{self, Level};
use crate::seams::{FOUR, Seams, neighbour};
use crate::texture;
use crate::{FillError, FillOptions, ImageRef, MaskRef, RgbaImage};

/// Rows per parallel band. Fixed (not derived from the thread count) so that results are
/// identical on any machine; small enough to give two cores work at 64-pixel levels.
const BAND_ROWS: usize = 16;

/// Hole pixels per parallel chunk of a per-hole-pixel pass: the votes and the best-patch
/// sources. Each pixel's result is its own, so the chunking never changes the output; 1024
/// splits even a coarse level's hole (a few thousand pixels) across two cores, where 4096
/// left it on one (4–5% of a 256 px fill's wall time).
const HOLE_CHUNK: usize = 1024;

/// First random-search radius at every level but the coarsest, and at the coarsest after its
/// first EM step.
const FINE_SEARCH_RADIUS: usize = 16;

/// Random-search radius of a single-level fill (a hole thinner than a patch: scratches,
/// text). Its field starts from the pixels beside the hole (see [`shifted_starts`]), so the
/// search refines near there. Measured on 12 photographs' scratches against a whole-image
/// window, both from the shifted start: PSNR +0.04/+0.02/+0.05 dB at 256/512/1024 px, for
/// about 15% less CPU time at 512 px and 30% at 1024. (From a random start, which only the
/// whole-image search could improve on, a 64 px window had cost 0.28 dB at 512 px.)
const SINGLE_LEVEL_SEARCH_RADIUS: usize = 64;

/// What a progress callback sees after each pyramid level.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// Index of the level just finished: 0 = the first (coarsest) level processed.
    pub level: u32,
    /// Number of levels in this fill; the last one is full resolution.
    pub levels: u32,
    /// The current estimate at this level's resolution, known pixels in place.
    pub image: ImageRef<'a>,
}

/// The fill engine. Owns scratch buffers that are reused across calls, so one `Filler` per
/// worker thread avoids most allocation.
#[derive(Debug, Default)]
pub struct Filler {
    levels: Vec<Level>,
    scratch: Scratch,
}

/// The per-level maps a [`Field`] reads beside the level's pixels (see there).
#[derive(Debug, Default)]
struct Masks {
    valid: Vec<u8>,
    target: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// Empty where patches are unweighted (every level but a multi-level fill's coarsest).
    hole_rows: Vec<u16>,
}

#[derive(Debug, Default)]
struct Scratch {
    sums: HoleSums,
    masks: Masks,
    nnf: Vec<u32>,
    dist: Vec<u32>,
    /// The previous (coarser) level's field, kept for upsampling.
    prev_nnf: Vec<u32>,
    weight: Vec<u16>,
    holes: Vec<u32>,
    votes: Vec<Vote>,
    edges: Vec<u32>,
    sample: Vec<u32>,
    /// The onion peel's queue, then the shifted start's (see [`shifted_starts`]).
    queue: Vec<u32>,
    /// The onion peel's pixel states, then the shifted start's step codes.
    done: Vec<u8>,
    /// Coarser copies of the coarsest level for its pull-push start.
    stack: Vec<Level>,
    seams: Seams,
}

/// Per-level settings resolved from the options.
#[derive(Clone, Copy, Debug)]
struct Plan {
    radius: usize,
    em_steps: u32,
    passes: u32,
    seed: u64,
    parallel: bool,
    /// Full resolution: the last level processed, finished with the best-patch
    /// reconstruction and the seam step.
    last: bool,
}

impl Filler {
    /// A filler with empty scratch buffers.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Fills the pixels that `mask` marks, from the rest of `image`.
    ///
    /// `progress` is called once per pyramid level, coarsest first; returning
    /// [`ControlFlow::Break`] stops the fill with [`FillError::Cancelled`].
    ///
    /// # Errors
    /// [`FillError::ZeroSize`], [`FillError::SizeMismatch`], [`FillError::TooLarge`] and
    /// [`FillError::InvalidBuffer`] for malformed input; [`FillError::NothingToFillFrom`] when
    /// every pixel is marked; [`FillError::Cancelled`] when the callback asked to stop.
    pub fn fill(
        &mut self,
        image: ImageRef<'_>,
        mask: MaskRef<'_>,
        options: &FillOptions,
        progress: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
    ) -> Result<RgbaImage, FillError> {
        validate(&image, &mask, options.max_pixels)?;
        let holes = mask.data.iter().filter(|&&m| m != 0).count();
        if holes == 0 {
            return Ok(RgbaImage {
                width: image.width,
                height: image.height,
                pixels: image.pixels.to_vec(),
            });
        }
        if holes == mask.data.len() {
            return Err(FillError::NothingToFillFrom);
        }
        let radius = (options.patch_size / 2) as usize;
        let count = self.build_pyramid(image, mask, options, radius);
        let coarse_em = self.coarse_em_steps(count, options, radius);
        let s = &mut self.scratch;
        for step in 0..count {
            let li = count - 1 - step;
            let (finer, rest) = self.levels.split_at_mut(li + 1);
            let Some(level) = finer.last_mut() else {
                break;
            };
            // Levels past `count` are stale scratch from an earlier, deeper fill.
            let coarse = if step == 0 { None } else { rest.first() };
            let em_steps = if count == 1 && options.levels.is_none() {
                // The automatic depth chose one level because the hole is already thinner
                // than a patch (scratches, text): the onion-peel start is close, and a second
                // step measured +0.2 dB on 512 px scratches for 1.6× the time.
                options.fine_em_iterations.min(options.em_iterations)
            } else if count == 1 {
                options.em_iterations
            } else {
                let (hi, lo) = (coarse_em, options.fine_em_iterations);
                let t = li as u32;
                let n = count as u32 - 1;
                if hi >= lo {
                    lo + (hi - lo) * t / n
                } else {
                    hi + (lo - hi) * (n - t) / n
                }
            };
            let plan = Plan {
                radius,
                em_steps,
                passes: options.iterations,
                seed: options.seed ^ (li as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                parallel: options.parallel,
                last: li == 0,
            };
            run_level(level, coarse, s, &plan)?;
            if plan.last {
                // The coarser levels are spent; free them (the next fill allocates them
                // again) so that the seam step's solver does not raise the fill's peak.
                for l in rest.iter_mut() {
                    l.img = Vec::new();
                    l.hole = Vec::new();
                    l.tex = Vec::new();
                }
                s.stack = Vec::new();
                blend_seams(level, s);
            }
            let report = Progress {
                level: step as u32,
                levels: count as u32,
                image: ImageRef {
                    width: level.width as u32,
                    height: level.height as u32,
                    pixels: &level.img,
                },
            };
            if progress(&report).is_break() {
                return Err(FillError::Cancelled);
            }
        }
        let pixels = self
            .levels
            .first_mut()
            .map(|l| std::mem::take(&mut l.img))
            .unwrap_or_default();
        Ok(RgbaImage {
            width: image.width,
            height: image.height,
            pixels,
        })
    }

    /// EM steps at the coarsest level of a `count`-level fill: [`FillOptions::em_iterations`],
    /// or fewer when the hole there is thin. A step carries the border's content about one
    /// patch radius into the hole, so a hole whose deepest pixel lies `d` pixels from the
    /// known region has converged after about `d / r` steps; one more lets the field settle.
    /// Brush strokes (4–5 px deep at a 128 px coarsest level) get 3 steps instead of 6;
    /// squares and blobs (20+ px deep) keep all 6. A second settling step measured
    /// +0.04–0.07 dB on 12 photographs' brush strokes (256/512/1024 px) for about 10% more
    /// time, which the weighted coarsest-level distance (see `run_level`) already costs.
    fn coarse_em_steps(&mut self, count: usize, options: &FillOptions, radius: usize) -> u32 {
        let hi = options.em_iterations;
        if count < 2 || radius == 0 {
            return hi;
        }
        let Some(level) = self.levels.get(count - 1) else {
            return hi;
        };
        let sums = &mut self.scratch.sums;
        sums.build(&level.hole, level.width, level.height);
        let limit = radius * hi as usize;
        let depth = sums.depth(limit);
        let steps = depth.div_ceil(radius) as u32 + 1;
        steps.clamp(options.fine_em_iterations.min(hi), hi)
    }

    /// Copies the input into level 0 and downsamples until the hole is no thicker than a
    /// patch, the requested depth is reached, or the image would get too small.
    /// Returns the number of levels.
    ///
    /// "No thicker than a patch": no hole pixel is farther than a patch width (`2 r`) from
    /// the known region, so every hole pixel lies in a patch whose other half is known and
    /// the full-resolution search alone finds its match. Scratches of 4–10 px at 1024 px
    /// measured the same (32.4 dB) filled at full resolution alone as with a coarser level
    /// first, in half the time (285 → 150 ms, 6× → 3× OpenCV's Telea).
    fn build_pyramid(
        &mut self,
        image: ImageRef<'_>,
        mask: MaskRef<'_>,
        options: &FillOptions,
        radius: usize,
    ) -> usize {
        if self.levels.is_empty() {
            self.levels.push(Level::default());
        }
        if let Some(l0) = self.levels.first_mut() {
            l0.width = image.width as usize;
            l0.height = image.height as usize;
            l0.img.clear();
            l0.img.extend_from_slice(image.pixels);
            l0.hole.clear();
            l0.hole.extend(mask.data.iter().map(|&m| u8::from(m != 0)));
            texture::compute(
                &l0.img,
                &l0.hole,
                l0.width,
                l0.height,
                &mut l0.tex,
                options.parallel,
            );
        }
        // Small images still get one coarser level: the limit is at most half their
        // shorter side (but no less than 32 px, below which a patch spans too much).
        let half_short = (image.width.min(image.height) as usize / 2).max(32);
        let min_side = (options.min_level_size as usize).min(half_short);
        let mut count = 1;
        while let Some(cur) = self.levels.get(count - 1) {
            let short = cur.width.min(cur.height);
            let deeper = match options.levels {
                Some(n) => count < n as usize && short >= 2,
                None => {
                    short / 2 >= min_side && {
                        self.scratch.sums.build(&cur.hole, cur.width, cur.height);
                        self.scratch.sums.thicker_than(2 * radius)
                    }
                }
            };
            if !deeper {
                break;
            }
            if self.levels.len() <= count {
                self.levels.push(Level::default());
            }
            let (done, next) = self.levels.split_at_mut(count);
            let (Some(src), Some(dst)) = (done.last(), next.first_mut()) else {
                break;
            };
            pyramid::downsample(src, dst, options.parallel);
            // A level with no known pixel has nothing to match against, and one whose hole
            // has vanished has nothing to fill; stop above either.
            if !dst.hole.contains(&0) || !dst.hole.contains(&1) {
                break;
            }
            count += 1;
        }
        count
    }
}

/// Runs one level: maps, initial field, EM steps. Leaves the level's field in
/// `s.prev_nnf` for the next finer level. The patch radius shrinks below the plan's where no
/// whole patch of known pixels fits.
fn run_level(
    level: &mut Level,
    coarse: Option<&Level>,
    s: &mut Scratch,
    plan: &Plan,
) -> Result<(), FillError> {
    let (w, h) = (level.width, level.height);
    // The coarsest level of a multi-level fill starts from a smooth guess, and a patch on
    // the hole's edge compared on all its pixels favours smooth sources that resemble the
    // guess; with its hole pixels weighted down, the known pixels beside them decide, so
    // lines and edges entering the hole find their continuation. Finer levels start from
    // the coarser fill. A single-level fill (scratches) keeps the plain distance: weighting
    // measured +0.27/+0.00/+0.41 dB there at 256/512/1024 px, but nearly all of a scratch's
    // patches straddle the hole, and at full resolution that cost 1.5–2× the time.
    if coarse.is_none() && !plan.last {
        kernels::hole_rows(&level.hole, w, &mut s.masks.hole_rows);
    } else {
        s.masks.hole_rows.clear();
    }
    s.sums.build(&level.hole, w, h);
    // Shrink the patch where no whole patch of known pixels exists (tiny images, huge holes).
    let mut r = plan.radius;
    while s.sums.valid_sources(r, &mut s.masks.valid) == 0 {
        if r == 0 {
            return Err(FillError::NothingToFillFrom);
        }
        r -= 1;
    }
    s.sums.targets(r, &mut s.masks.target, &mut s.masks.spans);
    if plan.last {
        // The summed-area table (4 bytes per pixel) is not needed past this point; at full
        // resolution it would otherwise sit beside the field and its distances at the peak.
        s.sums.release();
    }
    s.holes.clear();
    s.holes.extend(
        level
            .hole
            .iter()
            .enumerate()
            .filter(|&(_, &v)| v != 0)
            .map(|(i, _)| i as u32),
    );
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(plan.seed);
    match coarse {
        Some(c) => pyramid::upsample_hole(c, level),
        None => {
            // A single-level fill (a hole thinner than a patch: scratches, text) starts from
            // the onion peel, whose nearest-border colours suit a thin hole (pull-push
            // measured −0.5 dB on 512 px scratches); deeper fills start from the smoother
            // pull-push, which gets large holes' low frequencies right.
            let ok = if plan.last {
                pyramid::onion_init(level, &mut s.queue, &mut s.done)
            } else {
                let ok = pyramid::pull_push_init(level, &mut s.stack);
                if ok {
                    lines::continue_lines(level, &s.holes, plan.parallel);
                }
                ok
            };
            if !ok {
                return Err(FillError::NothingToFillFrom);
            }
        }
    }
    init_field(level, coarse, s, r, &mut rng);
    if plan.last {
        // The coarser level's field has been scaled up; free it before the peak.
        s.prev_nnf = Vec::new();
    }
    // Above the coarsest level the upsampled field is already close, so the random search
    // only refines locally; a full-image window would cost ~log2(size) extra distances per
    // pixel for matches that almost never win. The coarsest level searches the whole image
    // in its first EM step only: after it the field has found its regions, and the later
    // steps refine it locally like the finer levels. Measured on 12 photographs at 256 and
    // 512 px: PSNR within ±0.05 dB and GMSD within ±0.001 of whole-image search at every
    // step, for 4–8% less time at 256 px, where the coarsest level is a third of the fill.
    let local_radius = w.max(h).min(FINE_SEARCH_RADIUS);
    let first_radius = if coarse.is_some() {
        local_radius
    } else if plan.last {
        w.max(h).min(SINGLE_LEVEL_SEARCH_RADIUS)
    } else {
        w.max(h)
    };
    compute_distances(level, s, r, plan.parallel);
    if coarse.is_some() {
        // Vote once with the upsampled field: sharper than the bilinear estimate.
        vote(level, s, r, plan.parallel);
        compute_distances(level, s, r, plan.parallel);
    }
    let mut pass = 0u64;
    for step in 0..plan.em_steps {
        let search_radius = if step == 0 {
            first_radius
        } else {
            local_radius
        };
        for _ in 0..plan.passes {
            search(level, s, r, plan, pass, search_radius);
            pass += 1;
        }
        // The full-resolution level of a multi-level fill ends with the best-patch pass
        // straight after its last search, which left the distances of the field to the
        // unchanged estimate: an averaged vote there would only be overwritten, and the
        // distances to it picked no better patches. Skipping both measured within ±0.04 dB
        // PSNR and ±0.0004 GMSD on 12 photographs' squares, brush strokes and blobs at
        // 256/512/1024 px, for about 10% less time. A single-level fill still votes: its
        // estimate is the onion peel, and best patches chosen against that measured
        // −0.11 dB on 256 px scratches.
        if plan.last && coarse.is_some() && step + 1 == plan.em_steps {
            break;
        }
        vote(level, s, r, plan.parallel);
        // The next search, the best-patch pass and the seam step need distances to the new
        // estimate; the next level does not (it recomputes them after upsampling). With the
        // search's stale distances the seam step picked worse border sources on single-level
        // fills (256 px scratches: 27.20 → 27.35 dB when fresh).
        if step + 1 < plan.em_steps || plan.last {
            compute_distances(level, s, r, plan.parallel);
        }
    }
    if plan.last {
        // Averaged votes low-pass what the field converged on; the single best patch per
        // pixel keeps the source's texture (a plain copy of known pixels). On
        // single-level fills too (scratches, text), since their field starts beside the
        // hole (see `shifted_starts`): on 12 photographs' scratches it costs 0.8/0.8/0.2 dB
        // PSNR at 256/512/1024 px against the averaged votes, and raises the gradient-energy
        // ratio (fill ÷ truth) from 0.67–0.72, a visibly soft line through texture, to
        // 0.78–0.79. From the random start it had cost the same and left the fill no
        // better than the peers'; from this one it stays 0.4–2.3 dB above them (the
        // benchmark's photos, 256–1024 px).
        vote_best(level, s, r, plan.parallel);
    }
    if !plan.last {
        // The last level's field stays in `s.nnf` for the seam step.
        std::mem::swap(&mut s.prev_nnf, &mut s.nnf);
    }
    Ok(())
}

fn field<'a>(level: &'a Level, masks: &'a Masks, r: usize) -> Field<'a> {
    Field {
        width: level.width,
        height: level.height,
        radius: r,
        img: &level.img,
        tex: &level.tex,
        valid: &masks.valid,
        target: &masks.target,
        spans: &masks.spans,
        hole_rows: &masks.hole_rows,
    }
}

/// The first (coarsest) level's starting field, as a step direction per target pixel in
/// `dir` (`k + 1` for step `k` of [`FOUR`]; 0 where there is none): a target pixel beside a legal source
/// takes the step towards it, and the steps spread through the target region breadth
/// first. [`init_field`] then gives each target pixel the first legal source along its
/// step, so a thin hole starts as a copy of the pixels just beside it instead of random
/// ones. Measured on 12 photographs against the random start:
/// - single-level fills (scratches), with the same two search passes: PSNR
///   +0.66/+0.65/+0.85 dB at 256/512/1024 px, GMSD 0.005–0.006 lower, gradient ratio
///   +0.05, and 11–15% less CPU time at 1024 px (good matches end the distance sums
///   sooner);
/// - the coarsest level of deeper fills: brush strokes +0.23/+0.16/+0.22 dB with GMSD
///   0.001–0.002 lower, squares −0.04 dB at each size, blobs −0.05/−0.02/+0.06 dB.
fn shifted_starts(level: &Level, masks: &Masks, queue: &mut Vec<u32>, dir: &mut Vec<u8>) {
    let (w, h) = (level.width, level.height);
    dir.clear();
    dir.resize(w * h, 0);
    queue.clear();
    for (i, d) in dir.iter_mut().enumerate() {
        if !flag(&masks.target, i) {
            continue;
        }
        let (x, y) = (i % w, i / w);
        if let Some(k) = FOUR.iter().position(|&(dx, dy)| {
            neighbour(x, y, dx, dy, w, h).is_some_and(|n| flag(&masks.valid, n))
        }) {
            *d = k as u8 + 1;
            queue.push(i as u32);
        }
    }
    let mut head = 0;
    while let Some(&q) = queue.get(head) {
        head += 1;
        let q = q as usize;
        let code = dir.get(q).copied().unwrap_or(0);
        for &(dx, dy) in &FOUR {
            let Some(n) = neighbour(q % w, q / w, dx, dy, w, h) else {
                continue;
            };
            if flag(&masks.target, n) && dir.get(n) == Some(&0) {
                if let Some(d) = dir.get_mut(n) {
                    *d = code;
                }
                queue.push(n as u32);
            }
        }
    }
}

/// Whether pixel `i` is marked in a per-pixel map (`valid`, `target`); false outside it.
fn flag(map: &[u8], i: usize) -> bool {
    map.get(i).is_some_and(|&v| v != 0)
}

/// The first legal source from target pixel `i` along the step of `code` (see
/// [`shifted_starts`]), within `limit` steps.
fn along(masks: &Masks, (w, h): (usize, usize), i: usize, code: u8, limit: usize) -> Option<u32> {
    let &(dx, dy) = FOUR.get(usize::from(code).checked_sub(1)?)?;
    let (mut x, mut y) = (i % w, i / w);
    for _ in 0..limit {
        let n = neighbour(x, y, dx, dy, w, h)?;
        if flag(&masks.valid, n) {
            return Some(n as u32);
        }
        (x, y) = (n % w, n / w);
    }
    None
}

/// Sets the field of every target pixel: the coarse match scaled up where it is still a
/// legal source; on the first level, the shifted start (see [`shifted_starts`]);
/// otherwise a random legal source.
fn init_field(
    level: &Level,
    coarse: Option<&Level>,
    s: &mut Scratch,
    r: usize,
    rng: &mut Xoshiro256PlusPlus,
) {
    let (w, h) = (level.width, level.height);
    // The first level's pixels start beside the hole (see `shifted_starts`) when a legal
    // source lies within 6r + 2 steps: across a hole up to 4r + 1 pixels thick (any
    // single-level hole) and the target margin of r on either side. Deeper inside a thicker
    // hole they start at random.
    let shifted = coarse.is_none();
    if shifted {
        shifted_starts(level, &s.masks, &mut s.queue, &mut s.done);
    }
    let limit = 6 * r + 2;
    let mut nnf = std::mem::take(&mut s.nnf);
    nnf.clear();
    nnf.resize(w * h, NONE);
    {
        let f = field(level, &s.masks, r);
        for (i, n) in nnf.iter_mut().enumerate() {
            if !flag(&s.masks.target, i) {
                continue;
            }
            let up = coarse.and_then(|c| {
                let (x, y) = (i % w, i / w);
                let (cw, ch) = (c.width, c.height);
                let ci = (y / 2).min(ch - 1) * cw + (x / 2).min(cw - 1);
                let cs = *s.prev_nnf.get(ci)? as usize;
                if cs == NONE as usize {
                    return None;
                }
                let sx = (2 * (cs % cw) + (x & 1)).clamp(r, w.saturating_sub(r + 1));
                let sy = (2 * (cs / cw) + (y & 1)).clamp(r, h.saturating_sub(r + 1));
                let cand = (sy * w + sx) as u32;
                flag(&s.masks.valid, cand as usize).then_some(cand)
            });
            let beside = || {
                let code = s.done.get(i).copied().filter(|_| shifted)?;
                along(&s.masks, (w, h), i, code, limit)
            };
            *n = up
                .or_else(beside)
                .or_else(|| f.random_source(rng))
                .unwrap_or(NONE);
        }
    }
    s.nnf = nnf;
}

fn compute_distances(level: &Level, s: &mut Scratch, r: usize, parallel: bool) {
    let w = level.width;
    let mut dist = std::mem::take(&mut s.dist);
    dist.clear();
    dist.resize(s.nnf.len(), u32::MAX);
    {
        let f = field(level, &s.masks, r);
        let chunk = BAND_ROWS * w;
        let run = |(b, (n, d)): (usize, (&[u32], &mut [u32]))| {
            kernels::distances_band(&f, b * BAND_ROWS, n, d);
        };
        if parallel {
            s.nnf
                .par_chunks(chunk)
                .zip(dist.par_chunks_mut(chunk))
                .enumerate()
                .for_each(run);
        } else {
            s.nnf
                .chunks(chunk)
                .zip(dist.chunks_mut(chunk))
                .enumerate()
                .for_each(run);
        }
    }
    s.dist = dist;
}

/// One PatchMatch pass over all bands. Each band reads its neighbours' boundary rows from a
/// snapshot taken before the pass and seeds its generator from (seed, pass, band), so the
/// result does not depend on scheduling.
fn search(level: &Level, s: &mut Scratch, r: usize, plan: &Plan, pass: u64, radius: usize) {
    let w = level.width;
    let h = level.height;
    let bands = h.div_ceil(BAND_ROWS);
    s.edges.clear();
    for b in 0..bands {
        let first = b * BAND_ROWS;
        let last = ((b + 1) * BAND_ROWS).min(h) - 1;
        for y in [first, last] {
            s.edges
                .extend_from_slice(s.nnf.get(y * w..(y + 1) * w).unwrap_or_default());
        }
    }
    let mut nnf = std::mem::take(&mut s.nnf);
    let mut dist = std::mem::take(&mut s.dist);
    {
        let f = field(level, &s.masks, r);
        let edges = &s.edges;
        let forward = pass.is_multiple_of(2);
        let seed = plan
            .seed
            .wrapping_add(pass.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let chunk = BAND_ROWS * w;
        let run = |(b, (n, d)): (usize, (&mut [u32], &mut [u32]))| {
            let row = |k: usize| edges.get(k * w..(k + 1) * w);
            let around = Neighbours {
                above: b.checked_sub(1).and_then(|p| row(2 * p + 1)),
                below: row(2 * (b + 1)),
            };
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                seed ^ (b as u64).wrapping_mul(0xA24B_AED4_963E_E407),
            );
            kernels::search_band(&f, b * BAND_ROWS, n, d, around, forward, radius, &mut rng);
        };
        if plan.parallel {
            nnf.par_chunks_mut(chunk)
                .zip(dist.par_chunks_mut(chunk))
                .enumerate()
                .for_each(run);
        } else {
            nnf.chunks_mut(chunk)
                .zip(dist.chunks_mut(chunk))
                .enumerate()
                .for_each(run);
        }
    }
    s.nnf = nnf;
    s.dist = dist;
}

/// Seam blending of the finished fill (see [`crate::seams`]), from the sources the
/// best-patch vote recorded. The field, its distances and the other per-level maps are
/// freed first, so that the solver's buffers do not add to the fill's peak memory.
fn blend_seams(level: &mut Level, s: &mut Scratch) {
    s.nnf = Vec::new();
    s.dist = Vec::new();
    s.masks.valid = Vec::new();
    s.masks.target = Vec::new();
    s.weight = Vec::new();
    s.votes = Vec::new();
    // The texture features are recomputed by the next fill.
    level.tex = Vec::new();
    s.seams.blend(
        &mut level.img,
        &level.hole,
        (level.width, level.height),
        &s.holes,
    );
    s.seams.release();
}

/// Records, for every hole pixel, the source its best-matching covering patch gives it
/// (see [`kernels::best_sources`]), for the best-patch vote and the seam step.
fn best_sources(level: &Level, s: &mut Scratch, r: usize, parallel: bool) {
    let f = field(level, &s.masks, r);
    let (nnf, dist) = (&s.nnf, &s.dist);
    let sources = s.seams.sources_mut(s.holes.len());
    hole_chunks(&s.holes, sources, parallel, |(q, o)| {
        kernels::best_sources(&f, nnf, dist, q, o);
    });
}

/// Replaces every hole pixel by the pixel its best-matching covering patch gives it
/// (colour and features), and keeps the sources for the seam step. Sources are known
/// pixels, so the copies read nothing this pass writes.
fn vote_best(level: &mut Level, s: &mut Scratch, r: usize, parallel: bool) {
    best_sources(level, s, r, parallel);
    for (&q, &src) in s.holes.iter().zip(s.seams.sources()) {
        if src == NONE {
            continue;
        }
        let (q, src) = (q as usize, src as usize);
        level.img.copy_within(src * 4..src * 4 + 4, q * 4);
        level.tex.copy_within(
            src * TEX_CHANNELS..(src + 1) * TEX_CHANNELS,
            q * TEX_CHANNELS,
        );
    }
}

/// Weights from the current distances, votes for every hole pixel, writes the votes back.
fn vote(level: &mut Level, s: &mut Scratch, r: usize, parallel: bool) {
    {
        let f = field(level, &s.masks, r);
        kernels::weights(&f, &s.dist, &mut s.weight, &mut s.sample);
        let (nnf, weight) = (&s.nnf, &s.weight);
        s.votes.clear();
        s.votes.resize(s.holes.len(), [0; 4 + TEX_CHANNELS]);
        hole_chunks(&s.holes, &mut s.votes, parallel, |(q, o)| {
            kernels::vote(&f, nnf, weight, q, o);
        });
    }
    write_votes(level, &s.holes, &s.votes);
}

/// Runs a per-hole-pixel kernel over the hole pixels in fixed chunks (so results do not
/// depend on the thread count), into `out` (one value per hole pixel).
fn hole_chunks<T, F>(holes: &[u32], out: &mut [T], parallel: bool, run: F)
where
    T: Send,
    F: Fn((&[u32], &mut [T])) + Send + Sync,
{
    par::for_chunks(out, HOLE_CHUNK, parallel, |k, o| {
        let start = k * HOLE_CHUNK;
        run((holes.get(start..start + o.len()).unwrap_or_default(), o));
    });
}

/// Writes each hole pixel's vote into the level's image and feature map.
fn write_votes(level: &mut Level, holes: &[u32], votes: &[Vote]) {
    for (&q, v) in holes.iter().zip(votes) {
        let q = q as usize;
        let (c, t) = v.split_at(4);
        if let Some(px) = level.img.get_mut(q * 4..q * 4 + 4) {
            px.copy_from_slice(c);
        }
        if let Some(px) = level.tex.get_mut(q * TEX_CHANNELS..(q + 1) * TEX_CHANNELS) {
            px.copy_from_slice(t);
        }
    }
}
