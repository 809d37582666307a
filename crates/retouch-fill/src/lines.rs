//! Straight continuation of the hole's surroundings, for the coarsest level's starting
//! estimate.
//!
//! Pull-push (see [`crate::pyramid::pull_push_init`]) fills a large hole with a smooth,
//! isotropic blend of its whole border. Where a region runs straight through the hole (a
//! wall below a horizon, a road, the edge of a building) that blend mixes the regions on
//! either side, and the EM steps then settle on whichever source is nearest the mixture,
//! usually the flat one: in a brick-wall-and-sky test scene the sky bulged down into the
//! wall, erasing the top rows of bricks across the hole at every size.
//!
//! Here every hole pixel looks along 8 directions (every 22.5°) for the first known pixel
//! on either side. Where the surroundings of the two ends agree (the mean colour of the
//! known pixels in a 7×7 window around each), the line through the pixel probably crosses
//! one region, and the pixel takes the colours (and texture features) of the two ends,
//! interpolated by distance. A direction's weight is `exp(-d² / 2σ²)` of the two ends'
//! colour difference `d`, averaged over the parallel lines through the hole pixels up to
//! [`BAND`] steps on either side, so a single coincidental match (an eye on each side of a
//! cat's nose) counts for little and a band of them (a wall) for much. The pull-push value
//! keeps the weight the best direction leaves, so a pixel that no line agrees across stays
//! the smooth blend.
//!
//! Measured against pull-push alone on 12 photographs, 3 seeds each, at 256/512/1024 px:
//! brush strokes +0.09/+0.14/+0.11 dB PSNR with GMSD 0.0007–0.0015 lower (+0.28/+0.22 dB
//! on 4:3 crops at 640/1024 px); squares +0.03/+0.01/−0.04 dB, GMSD −0.0012/+0.0016/+0.0010;
//! blobs −0.09/−0.06/−0.07 dB, GMSD +0.0025/+0.0006/−0.0007, a bolder layout where the
//! blend hedged. On the brick-and-sky scene with a blob over the horizon, the share of the
//! hole below the horizon filled with sky drops from 22–65% to under 2% at 256–1024 px, in
//! landscape and portrait, and a vertical or tilted wall edge continues too. It costs about
//! 0.6 ms of a 17 ms fill at 256 px, less than 1% at 1024 px.

use crate::par::for_chunks;
use crate::pyramid::Level;
use crate::texture::CHANNELS as TC;

/// The directions looked along, as integer steps: the 8 lines through a pixel at multiples
/// of 22.5° (tan 22.5° ≈ 5/12). Each is walked both ways.
const DIRECTIONS: [(i32, i32); 8] = [
    (1, 0),
    (12, 5),
    (1, 1),
    (5, 12),
    (0, 1),
    (-5, 12),
    (-1, 1),
    (-12, 5),
];

/// Half-side of the window whose known pixels' mean colour describes a line's end. 7×7 at
/// the coarsest level spans a brick of the test scene at 256 px (5×5 left a band of sky
/// there); the window only judges agreement, the colours carried in are the ends' own.
const WINDOW: usize = 3;

/// σ of the agreement weight, in grey levels of the RGB distance between the two ends'
/// window means. 12 measured the same on photographs but let the sky back into the test
/// scene at 256 px; 25 trusted chance agreements across photographs' blobs (a further
/// 0.04–0.05 dB lost there).
const SIGMA: u64 = 15;

/// Parallel lines on either side of a pixel, across a direction, whose agreement is
/// averaged with its own. Of 2, 4 and 6, 6 measured best on squares at 256 px (+0.05 dB
/// against pull-push alone, where 2 lost 0.04) and the same elsewhere.
const BAND: i32 = 6;

/// Longest walk to a line's end, in steps along the direction's major axis. A large hole's
/// coarsest level is at most about 128 pixels across (see
/// [`crate::FillOptions::min_level_size`]); the cap bounds the work where a thin hole keeps
/// a large coarsest level.
const MAX_STEPS: usize = 160;

// The steps to a line's end are kept in a byte (see [`Line`]).
const _: () = assert!(MAX_STEPS <= u8::MAX as usize);

/// Weights are kept in 1/`ONE` units.
const ONE: u32 = 1024;

/// Hole pixels per parallel chunk.
const CHUNK: usize = 256;

/// Marks a known pixel in the slot map.
const KNOWN: u32 = u32::MAX;

/// Per direction, the offsets of the first [`MAX_STEPS`] pixels along it and of the
/// [`BAND`] pixels on either side across it (the perpendicular stepped the same way).
struct Steps {
    along: [[(i32, i32); MAX_STEPS]; DIRECTIONS.len()],
    across: [[(i32, i32); 2 * BAND as usize + 1]; DIRECTIONS.len()],
}

impl Steps {
    /// `t · d / major` for each step `t`, the minor axis rounded half away from zero.
    fn new() -> Box<Self> {
        let mut steps = Box::new(Self {
            along: [[(0, 0); MAX_STEPS]; DIRECTIONS.len()],
            across: [[(0, 0); 2 * BAND as usize + 1]; DIRECTIONS.len()],
        });
        let offset = |t: i32, (dx, dy): (i32, i32), major: i32| {
            (round_div(t * dx, major), round_div(t * dy, major))
        };
        for ((&(dx, dy), along), across) in DIRECTIONS
            .iter()
            .zip(steps.along.iter_mut())
            .zip(steps.across.iter_mut())
        {
            let major = dx.abs().max(dy.abs());
            for (t, o) in (1i32..).zip(along.iter_mut()) {
                *o = offset(t, (dx, dy), major);
            }
            for (j, o) in (-BAND..).zip(across.iter_mut()) {
                *o = offset(j, (-dy, dx), major);
            }
        }
        steps
    }
}

/// A hole pixel's line along one direction: the ends' agreement (in 1/[`ONE`]) and the
/// steps to each end, so the second pass finds the ends without walking again; all 0 where
/// the line has no known pixel on one side.
#[derive(Clone, Copy, Debug, Default)]
struct Line {
    agree: u16,
    ahead: u8,
    behind: u8,
}

/// What the passes read.
struct View<'a> {
    width: usize,
    height: usize,
    img: &'a [u8],
    tex: &'a [u8],
    /// Per pixel, its index among the hole pixels, or [`KNOWN`].
    slot: &'a [u32],
    /// Per known pixel, the mean RGB × 16 of the known pixels of its window.
    means: &'a [[u16; 3]],
    steps: &'a Steps,
}

impl View<'_> {
    /// The pixel `(x, y) + sign · o`, or `None` outside the image.
    #[inline]
    fn at(&self, x: usize, y: usize, (ox, oy): (i32, i32), sign: i32) -> Option<usize> {
        let nx = x as i64 + i64::from(ox * sign);
        let ny = y as i64 + i64::from(oy * sign);
        if nx < 0 || ny < 0 || nx >= self.width as i64 || ny >= self.height as i64 {
            return None;
        }
        Some(ny as usize * self.width + nx as usize)
    }

    /// The first known pixel from `(x, y)` along direction `k` (`sign` ±1), and the steps
    /// to it; `None` when the walk leaves the image or runs past [`MAX_STEPS`] first.
    #[inline]
    fn walk(&self, x: usize, y: usize, k: usize, sign: i32) -> Option<(usize, u8)> {
        for (t, &o) in (1u8..).zip(self.steps.along.get(k)?) {
            let j = self.at(x, y, o, sign)?;
            if self.slot.get(j) == Some(&KNOWN) {
                return Some((j, t));
            }
        }
        None
    }

    /// The line through hole pixel `i` along direction `k`; all zero where it has no known
    /// pixel on one side.
    fn line(&self, i: usize, k: usize) -> Line {
        let (x, y) = (i % self.width, i / self.width);
        let (Some((a, ahead)), Some((b, behind))) = (self.walk(x, y, k, 1), self.walk(x, y, k, -1))
        else {
            return Line::default();
        };
        let (Some(ma), Some(mb)) = (self.means.get(a), self.means.get(b)) else {
            return Line::default();
        };
        let d2: u64 = ma
            .iter()
            .zip(mb)
            .map(|(&p, &q)| {
                let d = i64::from(p) - i64::from(q);
                (d * d) as u64
            })
            .sum();
        Line {
            agree: weight(d2),
            ahead,
            behind,
        }
    }

    /// The new estimate of hole pixel `i`, whose pull-push estimate the level holds:
    /// its lines weighted by their bands' agreement, and the pull-push value.
    fn blend(&self, i: usize, lines: &[Line]) -> Option<[u8; 4 + TC]> {
        let (x, y) = (i % self.width, i / self.width);
        let nd = DIRECTIONS.len();
        let mut acc = [0u64; 4 + TC];
        let (mut total, mut best) = (0u64, 0u32);
        let own_lines = lines.get(self.slot.get(i).copied()? as usize * nd..)?;
        for (k, (line, across)) in own_lines.iter().zip(&self.steps.across).enumerate() {
            // The band: hole pixels across the direction, up to BAND steps either side.
            let (mut sum, mut count) = (0u32, 0u32);
            for &o in across {
                let Some(&s) = self.at(x, y, o, 1).and_then(|q| self.slot.get(q)) else {
                    continue;
                };
                if s != KNOWN
                    && let Some(l) = lines.get(s as usize * nd + k)
                {
                    sum += u32::from(l.agree);
                    count += 1;
                }
            }
            let weight = sum / count.max(1);
            let (ta, tb) = (u32::from(line.ahead), u32::from(line.behind));
            if weight == 0 || ta == 0 || tb == 0 {
                continue;
            }
            let end = |t: u32, sign| {
                let o = self.steps.along.get(k)?.get(t as usize - 1)?;
                self.at(x, y, *o, sign)
            };
            let (Some(a), Some(b)) = (end(ta, 1), end(tb, -1)) else {
                continue;
            };
            best = best.max(weight);
            total += u64::from(weight);
            // Interpolated by distance: the nearer end counts more.
            let span = u64::from(ta + tb);
            let ends = self
                .img
                .get(a * 4..a * 4 + 4)?
                .iter()
                .chain(self.tex.get(a * TC..a * TC + TC)?)
                .zip(
                    self.img
                        .get(b * 4..b * 4 + 4)?
                        .iter()
                        .chain(self.tex.get(b * TC..b * TC + TC)?),
                );
            for (acc, (&va, &vb)) in acc.iter_mut().zip(ends) {
                let lerp =
                    (u64::from(va) * u64::from(tb) + u64::from(vb) * u64::from(ta) + span / 2)
                        / span;
                *acc += u64::from(weight) * lerp;
            }
        }
        // The pull-push estimate keeps what the best direction leaves.
        let keep = u64::from(ONE.saturating_sub(best));
        let own = self
            .img
            .get(i * 4..i * 4 + 4)?
            .iter()
            .chain(self.tex.get(i * TC..i * TC + TC)?);
        for (acc, &v) in acc.iter_mut().zip(own) {
            *acc += keep * u64::from(v);
        }
        total += keep;
        let mut out = [0u8; 4 + TC];
        for (o, &a) in out.iter_mut().zip(&acc) {
            *o = ((a + total / 2) / total.max(1)).min(255) as u8;
        }
        Some(out)
    }
}

/// `2^(-f/16)` in 1/[`ONE`] units, `f` = 0..16.
const EXP2_SIXTEENTHS: [u16; 16] = [
    1024, 981, 939, 899, 861, 825, 790, 756, 724, 693, 664, 636, 609, 583, 558, 535,
];

/// `exp(-d² / 2σ²)` in 1/[`ONE`] units, for `d2` the squared distance of two means × 16
/// (so × 256 grey levels²), in integers so that the fill is the same on every platform:
/// `exp(-x) = 2^(-x·log₂e)`, with the exponent in 16ths (log₂e ≈ 94548 / 65536).
fn weight(d2: u64) -> u16 {
    let sixteenths = d2 * 16 * 94_548 / (65_536 * 256 * 2 * SIGMA * SIGMA);
    let (whole, frac) = (sixteenths / 16, (sixteenths % 16) as usize);
    EXP2_SIXTEENTHS
        .get(frac)
        .map_or(0, |&v| v.checked_shr(whole.min(16) as u32).unwrap_or(0))
}

/// `n / d` rounded half away from zero (`d` > 0).
#[inline]
fn round_div(n: i32, d: i32) -> i32 {
    if n >= 0 {
        (2 * n + d) / (2 * d)
    } else {
        -((d - 2 * n) / (2 * d))
    }
}

/// Per known pixel, the mean RGB × 16 of the known pixels in its window (separable box
/// sums); hole pixels get 0 (never read).
fn window_means(level: &Level, parallel: bool) -> Vec<[u16; 3]> {
    let (w, h) = (level.width, level.height);
    // Horizontal sums of the known pixels' RGB and their count, per pixel.
    let mut rows = vec![[0u32; 4]; w * h];
    for_chunks(&mut rows, w.max(1), parallel, |y, row| {
        for (x, out) in row.iter_mut().enumerate() {
            for xx in x.saturating_sub(WINDOW)..(x + WINDOW + 1).min(w) {
                let j = y * w + xx;
                if level.hole.get(j) == Some(&0)
                    && let Some(px) = level.img.get(j * 4..j * 4 + 3)
                {
                    for (o, &v) in out.iter_mut().zip(px) {
                        *o += u32::from(v);
                    }
                    out[3] += 1;
                }
            }
        }
    });
    let mut means = vec![[0u16; 3]; w * h];
    let rows = &rows;
    for_chunks(&mut means, w.max(1), parallel, |y, row| {
        for (x, out) in row.iter_mut().enumerate() {
            if level.hole.get(y * w + x) != Some(&0) {
                continue;
            }
            let mut acc = [0u32; 4];
            for yy in y.saturating_sub(WINDOW)..(y + WINDOW + 1).min(h) {
                if let Some(r) = rows.get(yy * w + x) {
                    for (a, &v) in acc.iter_mut().zip(r) {
                        *a += v;
                    }
                }
            }
            // The pixel itself is known, so the count is at least 1.
            let n = acc[3].max(1);
            for (o, &a) in out.iter_mut().zip(&acc) {
                *o = ((a * 16 + n / 2) / n) as u16;
            }
        }
    });
    means
}

/// Blends the straight continuation described in the module docs into the hole of
/// `level`, whose hole pixels (`holes`, in index order) hold the pull-push estimate. Known
/// pixels are not touched. The same on any thread count.
pub(crate) fn continue_lines(level: &mut Level, holes: &[u32], parallel: bool) {
    let (w, h) = (level.width, level.height);
    let n = w * h;
    if holes.is_empty()
        || level.img.len() < n * 4
        || level.hole.len() < n
        || level.tex.len() < n * TC
    {
        return;
    }
    let mut slot = vec![KNOWN; n];
    for (s, &q) in (0u32..).zip(holes) {
        if let Some(v) = slot.get_mut(q as usize) {
            *v = s;
        }
    }
    let means = window_means(level, parallel);
    let steps = Steps::new();
    let nd = DIRECTIONS.len();
    let mut lines = vec![Line::default(); holes.len() * nd];
    // Each hole pixel's new estimate; `None` leaves the level's value as it is.
    let mut out: Vec<Option<[u8; 4 + TC]>> = vec![None; holes.len()];
    {
        let view = View {
            width: w,
            height: h,
            img: &level.img,
            tex: &level.tex,
            slot: &slot,
            means: &means,
            steps: &steps,
        };
        for_chunks(&mut lines, CHUNK * nd, parallel, |c, chunk| {
            let start = c * CHUNK;
            for (q, l) in holes.iter().skip(start).zip(chunk.chunks_exact_mut(nd)) {
                for (k, l) in l.iter_mut().enumerate() {
                    *l = view.line(*q as usize, k);
                }
            }
        });
        let lines = &lines;
        for_chunks(&mut out, CHUNK, parallel, |c, chunk| {
            let start = c * CHUNK;
            for (q, o) in holes.iter().skip(start).zip(chunk.iter_mut()) {
                *o = view.blend(*q as usize, lines);
            }
        });
    }
    for (&q, o) in holes.iter().zip(&out) {
        let (q, Some(o)) = (q as usize, o) else {
            continue;
        };
        if let (Some(px), Some(t)) = (
            level.img.get_mut(q * 4..q * 4 + 4),
            level.tex.get_mut(q * TC..q * TC + TC),
        ) {
            px.copy_from_slice(&o[..4]);
            t.copy_from_slice(&o[4..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_falls_from_one_like_a_gaussian() {
        assert_eq!(weight(0), ONE as u16);
        // d = σ: exp(-1/2) ≈ 0.607.
        let at_sigma = weight(SIGMA * SIGMA * 256);
        // The exponent is floored to 16ths: at most 1/16 of it lost.
        assert!((600..=650).contains(&at_sigma), "{at_sigma}");
        let mut last = ONE as u16;
        for d in 0..200u64 {
            let w = weight(d * d * 256);
            assert!(w <= last, "not falling at d = {d}");
            last = w;
        }
        assert_eq!(weight(u64::from(u32::MAX)), 0);
    }

    #[test]
    fn directions_step_along_their_slope_both_ways() {
        let o = &Steps::new().along;
        assert_eq!(o[0][..3], [(1, 0), (2, 0), (3, 0)]);
        assert_eq!(o[2][..2], [(1, 1), (2, 2)]);
        // tan 22.5° ≈ 5/12: twelve steps rise five.
        assert_eq!(o[1][11], (12, 5));
        assert_eq!(o[7][11], (-12, 5));
        assert_eq!(o[3][11], (5, 12));
        assert_eq!(
            (round_div(-5, 2), round_div(5, 2), round_div(-4, 3)),
            (-3, 3, -1)
        );
    }

    /// A `w × h` level whose pixel `(x, y)` is `colour(x, y)`, or a hole pixel holding the
    /// estimate `[128, 100, 128]` where that is `None`; every pixel's features are `[7, 9]`.
    fn make_level(
        (w, h): (usize, usize),
        colour: impl Fn(usize, usize) -> Option<[u8; 3]>,
    ) -> (Level, Vec<u32>) {
        let mut level = Level {
            width: w,
            height: h,
            ..Level::default()
        };
        let mut holes = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let c = colour(x, y);
                let [r, g, b] = c.unwrap_or([128, 100, 128]);
                level.img.extend_from_slice(&[r, g, b, 255]);
                level.hole.push(u8::from(c.is_none()));
                level.tex.extend_from_slice(&[7, 9][..TC]);
                if c.is_none() {
                    holes.push((y * w + x) as u32);
                }
            }
        }
        (level, holes)
    }

    /// A `w × h` level whose rows (or, `across`, columns) before `split` are colour `a` and
    /// the rest `b`, with the centred rectangle `hw × hh` a hole.
    fn split_level(
        (w, h): (usize, usize),
        split: usize,
        across: bool,
        (a, b): ([u8; 3], [u8; 3]),
        (hw, hh): (usize, usize),
    ) -> (Level, Vec<u32>) {
        make_level((w, h), |x, y| {
            let in_hole = x.abs_diff(w / 2) * 2 < hw && y.abs_diff(h / 2) * 2 < hh;
            let first = if across { x < split } else { y < split };
            (!in_hole).then_some(if first { a } else { b })
        })
    }

    #[test]
    fn a_straight_boundary_is_carried_across_the_hole() {
        let (sky, wall) = ([90u8, 150, 230], [160u8, 80, 50]);
        let dist = |p: &[u8], c: [u8; 3]| -> u32 {
            p.iter()
                .zip(c)
                .map(|(&a, b)| u32::from(a.abs_diff(b)))
                .sum()
        };
        for across in [false, true] {
            // The boundary runs through the hole, off its centre.
            let split = if across { 28 } else { 20 };
            let (mut level, holes) = split_level((64, 48), split, across, (sky, wall), (30, 24));
            let before = level.img.clone();
            continue_lines(&mut level, &holes, false);
            let mut sums = [[0u32; 3]; 2];
            let mut counts = [0u32; 2];
            for (i, (px, old)) in level
                .img
                .chunks_exact(4)
                .zip(before.chunks_exact(4))
                .enumerate()
            {
                let (x, y) = (i % 64, i / 64);
                if level.hole[i] == 0 {
                    assert!(px == old, "known pixel {x},{y} changed");
                    continue;
                }
                // Away from the boundary, each pixel is nearer its own side's colour.
                let pos = if across { x } else { y };
                let (side, own, other) = match pos {
                    p if p + 3 < split => (0, sky, wall),
                    p if p >= split + 3 => (1, wall, sky),
                    _ => continue,
                };
                assert!(
                    dist(px, own) * 2 < dist(px, other),
                    "across {across}: pixel {x},{y} {px:?}"
                );
                for (s, &v) in sums[side].iter_mut().zip(px) {
                    *s += u32::from(v);
                }
                counts[side] += 1;
            }
            // And on average it is that colour (lines crossing the boundary blend in a
            // little).
            for (side, want) in [(0, sky), (1, wall)] {
                let mean = sums[side].map(|s| (s / counts[side].max(1)) as u8);
                assert!(
                    dist(&mean, want) <= 30,
                    "across {across}: side {side} mean {mean:?}"
                );
            }
        }
    }

    #[test]
    fn without_an_agreeing_line_the_estimate_stays() {
        // A band of rows across the whole image between red above and blue below: every
        // line through the band either leaves the image or joins red to blue.
        let (mut level, holes) = make_level((48, 32), |_, y| match y {
            0..10 => Some([240, 20, 20]),
            10..22 => None,
            _ => Some([20, 20, 240]),
        });
        let (img, tex) = (level.img.clone(), level.tex.clone());
        continue_lines(&mut level, &holes, false);
        assert!(level.img == img, "the estimate changed");
        assert!(level.tex == tex, "the features changed");
    }

    #[test]
    fn the_same_on_any_thread_count() {
        let (mut serial, holes) = split_level(
            (300, 200),
            90,
            false,
            ([90, 150, 230], [160, 80, 50]),
            (180, 120),
        );
        // Some texture, so the lines do not all agree.
        for (i, px) in serial.img.chunks_exact_mut(4).enumerate() {
            if serial.hole[i] == 0 {
                px[1] = px[1].wrapping_add((i * 7 % 23) as u8);
            }
        }
        let mut parallel = Level {
            width: serial.width,
            height: serial.height,
            img: serial.img.clone(),
            hole: serial.hole.clone(),
            tex: serial.tex.clone(),
            coarse: serial.coarse,
        };
        continue_lines(&mut serial, &holes, false);
        continue_lines(&mut parallel, &holes, true);
        assert!(serial.img == parallel.img, "colours differ");
        assert!(serial.tex == parallel.tex, "features differ");
    }
}
