//! The inner loops: patch distance, one PatchMatch pass over a band of rows, voting, and
//! the vote weights. Public but hidden so that the criterion benches can time them alone;
//! not part of the stable API.
//!
//! Patches are compared on all four RGBA channels and the two texture-feature channels (see
//! `texture`) with an integer sum of squared differences, one row of both at a time so the
//! compiler vectorises each row, stopping as soon as the running sum exceeds the best
//! distance found so far. A source patch always lies fully inside the image and fully in
//! the known region (see `Field::valid`); a target patch is clipped to the image, so the
//! same offsets address both.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::RngCore;

/// Marks a pixel without a nearest-neighbour entry (outside the target region).
pub const NONE: u32 = u32::MAX;

/// Bytes per pixel of the texture-feature map.
pub const TEX_CHANNELS: usize = crate::texture::CHANNELS;

/// What voting produces per hole pixel: RGBA, then the texture features.
pub type Vote = [u8; 4 + TEX_CHANNELS];

/// One level as the kernels see it.
#[derive(Clone, Copy, Debug)]
pub struct Field<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Patch radius: patches are `2 * radius + 1` pixels square.
    pub radius: usize,
    /// RGBA8 estimate: known pixels exact, hole pixels the current estimate.
    pub img: &'a [u8],
    /// Texture features, [`TEX_CHANNELS`] bytes per pixel, compared and voted like colours.
    pub tex: &'a [u8],
    /// 1 where a patch centred there is a legal source (inside the image, no hole pixel).
    pub valid: &'a [u8],
    /// 1 where the patch centred there overlaps the hole and so needs a match.
    pub target: &'a [u8],
    /// Per row, the `[first, last + 1)` columns of target pixels.
    pub spans: &'a [(u32, u32)],
    /// Empty: every pixel of a patch counts the same in the distance. Otherwise, per pixel,
    /// the hole pattern of the patch row that starts there (see [`hole_rows`]), and a target
    /// patch's hole pixels count 0.15 of a known pixel (see [`HOLE_LANE`]): a patch on the
    /// hole's edge is then matched mostly on its known pixels, which are the truth, rather
    /// than on the estimate beside them.
    pub hole_rows: &'a [u16],
}

/// The largest patch side ([`crate::FillOptions::patch_size`] clamps to it).
const MAX_PATCH: usize = 15;

/// Sum of squared differences between two `pw × ph` pixel blocks of `img` (RGBA8, `width`
/// pixels per row) with top-left pixels `t0` and `s0`. Stops early, returning a value above
/// `bound`, once the partial sum exceeds `bound`. Out-of-range blocks return `u32::MAX`.
///
/// The plain loop, for patches clipped to an even width at the image's edge; every other
/// patch goes through [`Field::distance`]'s one-pass kernel.
#[inline]
#[must_use]
pub fn patch_ssd(
    img: &[u8],
    width: usize,
    t0: usize,
    s0: usize,
    pw: usize,
    ph: usize,
    bound: u32,
) -> u32 {
    ssd_generic(img, width, 4, (t0, s0), pw, ph, bound)
}

/// [`patch_ssd`] over a texture-feature map ([`TEX_CHANNELS`] bytes per pixel).
#[inline]
#[must_use]
pub fn tex_ssd(
    tex: &[u8],
    width: usize,
    t0: usize,
    s0: usize,
    pw: usize,
    ph: usize,
    bound: u32,
) -> u32 {
    ssd_generic(tex, width, TEX_CHANNELS, (t0, s0), pw, ph, bound)
}

#[inline]
fn ssd_generic(
    img: &[u8],
    width: usize,
    channels: usize,
    (t0, s0): (usize, usize),
    pw: usize,
    ph: usize,
    bound: u32,
) -> u32 {
    let len = pw * channels;
    let mut acc = 0u32;
    for k in 0..ph {
        let ta = (t0 + k * width) * channels;
        let sa = (s0 + k * width) * channels;
        let (Some(a), Some(b)) = (img.get(ta..ta + len), img.get(sa..sa + len)) else {
            return u32::MAX;
        };
        acc = acc.saturating_add(row_ssd(a, b));
        if acc > bound {
            return acc;
        }
    }
    acc
}

/// Row `k` of the target and source blocks with top-left pixels `t0` and `s0`: `N` bytes of
/// RGBA and `NT` bytes of features each, as fixed-size arrays, so the row sums unroll and
/// vectorise without a scalar tail. `None` when a block leaves the buffers.
#[inline(always)]
fn block_row<'a, const N: usize, const NT: usize>(
    img: &'a [u8],
    tex: &'a [u8],
    ti: usize,
    si: usize,
) -> Option<BlockRow<'a, N, NT>> {
    let t = |i: usize| i * TEX_CHANNELS..i * TEX_CHANNELS + NT;
    Some(BlockRow {
        a: img.get(ti * 4..ti * 4 + N)?.try_into().ok()?,
        b: img.get(si * 4..si * 4 + N)?.try_into().ok()?,
        at: tex.get(t(ti))?.try_into().ok()?,
        bt: tex.get(t(si))?.try_into().ok()?,
    })
}

/// One row of a target block (`a`, `at`) and a source block (`b`, `bt`).
struct BlockRow<'a, const N: usize, const NT: usize> {
    a: &'a [u8; N],
    b: &'a [u8; N],
    at: &'a [u8; NT],
    bt: &'a [u8; NT],
}

impl<const N: usize, const NT: usize> BlockRow<'_, N, NT> {
    /// Σ of squared differences over colour and features (i16 differences squared into
    /// i32 lanes, the shape of a multiply-add instruction).
    #[inline(always)]
    fn ssd(&self) -> u32 {
        let sq = |(&x, &y): (&u8, &u8)| {
            let d = i32::from(i16::from(x) - i16::from(y));
            d * d
        };
        (self.a.iter().zip(self.b).map(sq).sum::<i32>()
            + self.at.iter().zip(self.bt).map(sq).sum::<i32>()) as u32
    }
}

/// Colour and texture rows together: `N` bytes of RGBA and `NT` bytes of features per row,
/// one running sum and one bound check per row.
#[inline(always)]
fn fused_rows<const N: usize, const NT: usize>(
    img: &[u8],
    tex: &[u8],
    width: usize,
    t0: usize,
    s0: usize,
    ph: usize,
    bound: u32,
) -> u32 {
    let mut acc = 0u32;
    for k in 0..ph {
        let Some(row) = block_row::<N, NT>(img, tex, t0 + k * width, s0 + k * width) else {
            return u32::MAX;
        };
        acc = acc.saturating_add(row.ssd());
        if acc > bound {
            return acc;
        }
    }
    acc
}

/// Per pixel, the hole pattern of the patch row that starts there, for
/// [`Field::hole_rows`]: bit `p` set when the pixel `p` places to the right, in the same
/// row, is a hole pixel (`hole` nonzero).
pub fn hole_rows(hole: &[u8], width: usize, out: &mut Vec<u16>) {
    out.clear();
    out.resize(hole.len(), 0);
    for (h, o) in hole.chunks(width.max(1)).zip(out.chunks_mut(width.max(1))) {
        let mut bits = 0u16;
        for (&v, b) in h.iter().zip(o.iter_mut()).rev() {
            bits = (bits << 1) | u16::from(v != 0);
            *b = bits;
        }
    }
}

/// Per-lane weights of one patch row, in 128ths, for every hole pattern of up to 7 pixels:
/// `C` lanes per pixel ([`KNOWN_LANE`] for a known pixel, [`HOLE_LANE`] for a hole pixel).
const fn lane_weights<const N: usize, const C: usize>() -> [[i16; N]; 128] {
    let mut table = [[KNOWN_LANE; N]; 128];
    let mut code = 0;
    while code < 128 {
        let mut lane = 0;
        while lane < N {
            if (code >> (lane / C)) & 1 == 1 {
                table[code][lane] = HOLE_LANE;
            }
            lane += 1;
        }
        code += 1;
    }
    table
}

/// A known pixel's weight, in 128ths.
const KNOWN_LANE: i16 = 128;
/// A target patch's hole pixel's weight where [`Field::hole_rows`] is set, in 128ths of a
/// known pixel's: 0.15. Measured on 12 photographs at 256/512/1024 px against equal weights
/// (weighting the coarsest level of multi-level fills): PSNR +0.19/+0.08/+0.11 dB on
/// squares, +0.08/+0.18/+0.15 on brush strokes, +0.13/+0.04/+0.05 on blobs, with GMSD lower
/// in all nine cells; with the one settling step the engine then takes at that level (see
/// `Filler::coarse_em_steps`), +0.22/+0.11/+0.10, +0.03/+0.11/+0.11 and +0.10/+0.09/+0.10,
/// GMSD again lower in all nine. 0.1–0.15 measured best of 0.05–0.5.
const HOLE_LANE: i16 = 19;

/// [`lane_weights`] for rows of 3, 5 and 7 pixels: colour (4 lanes per pixel) and features.
static COLOUR_LANES_3: [[i16; 12]; 128] = lane_weights::<12, 4>();
static TEX_LANES_3: [[i16; 3 * TEX_CHANNELS]; 128] =
    lane_weights::<{ 3 * TEX_CHANNELS }, TEX_CHANNELS>();
static COLOUR_LANES_5: [[i16; 20]; 128] = lane_weights::<20, 4>();
static TEX_LANES_5: [[i16; 5 * TEX_CHANNELS]; 128] =
    lane_weights::<{ 5 * TEX_CHANNELS }, TEX_CHANNELS>();
static COLOUR_LANES_7: [[i16; 28]; 128] = lane_weights::<28, 4>();
static TEX_LANES_7: [[i16; 7 * TEX_CHANNELS]; 128] =
    lane_weights::<{ 7 * TEX_CHANNELS }, TEX_CHANNELS>();

/// Σ of `w · d²` over the lanes of two rows, `w` in 128ths: the difference times its weight
/// fits an i16 (255 × 128), which keeps the per-lane multiply 16 bits wide.
#[inline(always)]
fn weighted_lanes<const N: usize>(a: &[u8; N], b: &[u8; N], w: &[i16; N]) -> i32 {
    a.iter()
        .zip(b)
        .zip(w)
        .map(|((&x, &y), &w)| {
            let d = i16::from(x) - i16::from(y);
            i32::from(d) * i32::from(d * w)
        })
        .sum()
}

/// A row's weighted sum from its plain sum `plain` and the hole pixels in `bits`, whose
/// squared differences `pixel(p)` gives: `(128 · known + 19 · hole) / 128`.
#[inline]
fn weigh_row(plain: u32, bits: u32, pixel: impl Fn(usize) -> u32) -> u32 {
    let mut holed = 0u32;
    let mut rest = bits;
    while rest != 0 {
        holed += pixel(rest.trailing_zeros() as usize);
        rest &= rest - 1;
    }
    let (known, hole) = (KNOWN_LANE as u32, HOLE_LANE as u32);
    // A row of 15 pixels sums to at most 15 × 6 × 255² < 2^23, so × 128 fits.
    (plain * known - holed * (known - hole)) / known
}

/// Σ of squared differences of pixel `p` of two rows (colour and features).
#[inline]
fn pixel_ssd(a: &[u8], b: &[u8], at: &[u8], bt: &[u8], p: usize) -> u32 {
    let t = p * TEX_CHANNELS..(p + 1) * TEX_CHANNELS;
    row_ssd(
        a.get(4 * p..4 * p + 4).unwrap_or_default(),
        b.get(4 * p..4 * p + 4).unwrap_or_default(),
    ) + row_ssd(
        at.get(t.clone()).unwrap_or_default(),
        bt.get(t).unwrap_or_default(),
    )
}

/// The hole patterns of the `ph` rows of a `pw`-wide target block at `t0`, and how many
/// hole pixels they hold (`None` past the map).
#[inline]
fn block_holes(
    rows: &[u16],
    width: usize,
    t0: usize,
    pw: usize,
    ph: usize,
) -> Option<([u16; MAX_PATCH], usize)> {
    let mask = ((1u32 << pw) - 1) as u16;
    let mut bits = [0u16; MAX_PATCH];
    let mut holes = 0;
    for (k, b) in bits.iter_mut().take(ph).enumerate() {
        *b = rows.get(t0 + k * width)? & mask;
        holes += b.count_ones() as usize;
    }
    Some((bits, holes))
}

/// A target block with both hole and known pixels, and a source block, compared with the
/// target's hole pixels weighted (see [`HOLE_LANE`]).
struct WeightedBlock<'a> {
    img: &'a [u8],
    tex: &'a [u8],
    width: usize,
    /// Top-left pixels of the target and source blocks.
    t0: usize,
    s0: usize,
    /// Each row's hole pattern: bit `p` set when pixel `p` of the target row is a hole pixel.
    rows: &'a [u16],
    /// Turns the weighted sum into a distance; also applied per row for the early stop.
    scale: Normalise,
}

impl WeightedBlock<'_> {
    /// [`fused_rows`] with the hole pixels weighted, for rows of up to 7 pixels (`N` bytes of
    /// colour, `NT` of features) whose per-lane weights `colour` and `texture` give per hole
    /// pattern.
    #[inline(always)]
    fn lanes<const N: usize, const NT: usize>(
        &self,
        (colour, texture): (&[[i16; N]; 128], &[[i16; NT]; 128]),
        bound: u32,
    ) -> u32 {
        let (w, mut acc) = (self.width, 0u32);
        for (k, &code) in self.rows.iter().enumerate() {
            let (ti, si) = (self.t0 + k * w, self.s0 + k * w);
            let Some(row) = block_row::<N, NT>(self.img, self.tex, ti, si) else {
                return u32::MAX;
            };
            let code = usize::from(code) & 127;
            let sum = match (colour.get(code), texture.get(code)) {
                (Some(cw), Some(tw)) if code != 0 => {
                    let lanes =
                        weighted_lanes(row.a, row.b, cw) + weighted_lanes(row.at, row.bt, tw);
                    lanes as u32 / KNOWN_LANE as u32
                }
                _ => row.ssd(),
            };
            acc = acc.saturating_add(sum);
            if self.scale.exceeds(acc, bound) {
                break;
            }
        }
        self.scale.apply(acc)
    }

    /// The same for rows of other widths (9 and more, and blocks clipped at the image's
    /// edge): per hole pixel a scalar correction of the plain row sum.
    fn generic(&self, pw: usize, bound: u32) -> u32 {
        let (w, mut acc) = (self.width, 0u32);
        for (k, &code) in self.rows.iter().enumerate() {
            let (ti, si) = (self.t0 + k * w, self.s0 + k * w);
            let t = |i: usize| i * TEX_CHANNELS..(i + pw) * TEX_CHANNELS;
            let (Some(a), Some(b), Some(at), Some(bt)) = (
                self.img.get(ti * 4..(ti + pw) * 4),
                self.img.get(si * 4..(si + pw) * 4),
                self.tex.get(t(ti)),
                self.tex.get(t(si)),
            ) else {
                return u32::MAX;
            };
            let plain = row_ssd(a, b) + row_ssd(at, bt);
            let sum = weigh_row(plain, u32::from(code), |p| pixel_ssd(a, b, at, bt, p));
            acc = acc.saturating_add(sum);
            if self.scale.exceeds(acc, bound) {
                break;
            }
        }
        self.scale.apply(acc)
    }
}

/// Turns a weighted sum over `pixels` pixels, `holes` of them weighted (see [`HOLE_LANE`]),
/// into the units of an unweighted sum (the weighted mean times `pixels`): a patch
/// entirely in the hole keeps its plain distance, so weighting changes how a patch on the
/// hole's edge is compared, not how much its vote counts beside one inside.
///
/// The factor `128 · pixels / (128 · known + 19 · holes)` is kept in 16.16 fixed point, so
/// applying it, per row for the early stop too, is a multiply and a shift.
struct Normalise {
    factor: u64,
}

impl Normalise {
    #[inline]
    fn new(pixels: usize, holes: usize) -> Self {
        let (known, hole) = (KNOWN_LANE as u64, HOLE_LANE as u64);
        let holes = holes.min(pixels) as u64;
        let total = (known * (pixels as u64 - holes) + hole * holes).max(1);
        Self {
            factor: ((known * pixels as u64) << 16) / total,
        }
    }

    /// Whether the distance of the (partial) weighted sum `acc` is above `bound`: since the
    /// factor is at least 1, such a partial sum can stop.
    #[inline(always)]
    fn exceeds(&self, acc: u32, bound: u32) -> bool {
        u64::from(acc) * self.factor > (u64::from(bound) << 16 | 0xFFFF)
    }

    /// The weighted sum as a distance, never below `acc`.
    #[inline]
    fn apply(&self, acc: u32) -> u32 {
        u32::try_from((u64::from(acc) * self.factor) >> 16).unwrap_or(u32::MAX)
    }
}

#[inline]
fn row_ssd(a: &[u8], b: &[u8]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = i32::from(x) - i32::from(y);
            (d * d) as u32
        })
        .sum()
}

impl Field<'_> {
    /// The clipped patch around target `(x, y)`: pixels left of and above the centre, and
    /// the block's width and height.
    #[inline]
    fn clip(&self, x: usize, y: usize) -> (usize, usize, usize, usize) {
        let r = self.radius;
        let left = x.min(r);
        let up = y.min(r);
        let pw = left + 1 + r.min(self.width - 1 - x);
        let ph = up + 1 + r.min(self.height - 1 - y);
        (left, up, pw, ph)
    }

    /// Distance between the (clipped) patch at target pixel `(x, y)` and the source patch
    /// centred at pixel index `s`, with early termination above `bound`.
    #[inline]
    #[must_use]
    pub fn distance(&self, x: usize, y: usize, s: u32, bound: u32) -> u32 {
        let (left, up, pw, ph) = self.clip(x, y);
        let t0 = (y - up) * self.width + x - left;
        let Some(s0) = (s as usize).checked_sub(up * self.width + left) else {
            return u32::MAX;
        };
        // Odd widths up to 11 (whole patches, and clipped ones that happen to be odd) compare
        // colour and texture row by row in one pass: 15% faster than two passes on 7×7
        // patches. Other clipped patches take the generic loops.
        let (img, tex, w) = (self.img, self.tex, self.width);
        if let Some(d) = self.weighted_distance((t0, s0), pw, ph, bound) {
            return d;
        }
        match pw {
            3 => return fused_rows::<12, 6>(img, tex, w, t0, s0, ph, bound),
            5 => return fused_rows::<20, 10>(img, tex, w, t0, s0, ph, bound),
            7 => return fused_rows::<28, 14>(img, tex, w, t0, s0, ph, bound),
            9 => return fused_rows::<36, 18>(img, tex, w, t0, s0, ph, bound),
            11 => return fused_rows::<44, 22>(img, tex, w, t0, s0, ph, bound),
            _ => {}
        }
        let colour = patch_ssd(self.img, self.width, t0, s0, pw, ph, bound);
        if colour > bound {
            return colour;
        }
        colour.saturating_add(tex_ssd(
            self.tex,
            self.width,
            t0,
            s0,
            pw,
            ph,
            bound - colour,
        ))
    }

    /// The distance with the target's hole pixels weighted (see [`Field::hole_rows`]), or
    /// `None` where it is the plain one: weighting off, or a target block all known or all
    /// hole (whose weighted mean is its plain mean).
    #[inline]
    fn weighted_distance(
        &self,
        (t0, s0): (usize, usize),
        pw: usize,
        ph: usize,
        bound: u32,
    ) -> Option<u32> {
        if self.hole_rows.is_empty() {
            return None;
        }
        let (bits, holes) = block_holes(self.hole_rows, self.width, t0, pw, ph)?;
        if holes == 0 || holes == pw * ph {
            return None;
        }
        let block = WeightedBlock {
            img: self.img,
            tex: self.tex,
            width: self.width,
            t0,
            s0,
            rows: bits.get(..ph)?,
            scale: Normalise::new(pw * ph, holes),
        };
        Some(match pw {
            3 => block.lanes((&COLOUR_LANES_3, &TEX_LANES_3), bound),
            5 => block.lanes((&COLOUR_LANES_5, &TEX_LANES_5), bound),
            7 => block.lanes((&COLOUR_LANES_7, &TEX_LANES_7), bound),
            _ => block.generic(pw, bound),
        })
    }

    /// Number of pixels in the clipped patch at `(x, y)`.
    #[inline]
    #[must_use]
    pub fn patch_pixels(&self, x: usize, y: usize) -> u32 {
        let (_, _, pw, ph) = self.clip(x, y);
        (pw * ph) as u32
    }

    #[inline]
    fn is_valid(&self, s: u32) -> bool {
        self.valid.get(s as usize).is_some_and(|&v| v != 0)
    }

    /// A uniformly random legal source centre, by rejection sampling with a deterministic
    /// scan as the fallback. `None` only when the level has no legal source at all.
    pub fn random_source(&self, rng: &mut Xoshiro256PlusPlus) -> Option<u32> {
        let n = self.width * self.height;
        if n == 0 {
            return None;
        }
        let mut start = 0;
        for _ in 0..32 {
            start = below(rng, n);
            if self.valid.get(start).is_some_and(|&v| v != 0) {
                return Some(start as u32);
            }
        }
        let tail = self.valid.get(start..).unwrap_or_default();
        let head = self.valid.get(..start).unwrap_or_default();
        tail.iter()
            .position(|&v| v != 0)
            .map(|i| i + start)
            .or_else(|| head.iter().position(|&v| v != 0))
            .map(|i| i as u32)
    }
}

/// Uniform integer in `0..n` (`n > 0`) by multiply-shift; the bias is below 2^-32 × n.
#[inline]
fn below(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    ((u64::from(rng.next_u32()) * n as u64) >> 32) as usize
}

/// A uniform integer in `[lo, hi]` (inclusive, `lo <= hi`).
#[inline]
fn between(rng: &mut Xoshiro256PlusPlus, lo: usize, hi: usize) -> usize {
    lo + below(rng, hi - lo + 1)
}

/// The rows of the nearest-neighbour field a band pass may read but not write: the last row
/// of the band above and the first row of the band below, as they were before the pass.
#[derive(Clone, Copy, Debug, Default)]
pub struct Neighbours<'a> {
    /// Row `y0 - 1`, if the band is not the first.
    pub above: Option<&'a [u32]>,
    /// Row `y0 + rows`, if the band is not the last.
    pub below: Option<&'a [u32]>,
}

/// One PatchMatch pass (propagation, then random search) over the rows `y0..` covered by
/// `nnf`/`dist` (`width` entries per row). `forward` scans top-left to bottom-right and
/// propagates from the left and upper neighbours; backward scans the other way.
/// `search_radius` is the first random-search window radius; it halves down to 1.
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel entry point; grouping the slices would only move the list"
)]
pub fn search_band(
    f: &Field<'_>,
    y0: usize,
    nnf: &mut [u32],
    dist: &mut [u32],
    edges: Neighbours<'_>,
    forward: bool,
    search_radius: usize,
    rng: &mut Xoshiro256PlusPlus,
) {
    let w = f.width;
    if w == 0 {
        return;
    }
    let rows = (nnf.len() / w).min(dist.len() / w);
    let r = f.radius;
    let x_hi = f.width.saturating_sub(r + 1);
    let y_hi = f.height.saturating_sub(r + 1);
    for k in 0..rows {
        let ly = if forward { k } else { rows - 1 - k };
        let y = y0 + ly;
        let Some(&(sx0, sx1)) = f.spans.get(y) else {
            continue;
        };
        let (sx0, sx1) = (sx0 as usize, sx1 as usize);
        for j in 0..sx1.saturating_sub(sx0) {
            let x = if forward { sx0 + j } else { sx1 - 1 - j };
            let i = ly * w + x;
            if f.target.get(y * w + x).is_none_or(|&t| t == 0) {
                continue;
            }
            let (Some(&cur), Some(&cur_d)) = (nnf.get(i), dist.get(i)) else {
                continue;
            };
            let mut best = cur;
            let mut best_d = cur_d;
            // Propagation: the neighbour's match shifted by one pixel back towards us.
            let (side, vertical) = if forward {
                let side = if x > 0 { nnf.get(i - 1).copied() } else { None };
                let up = if ly > 0 {
                    nnf.get(i - w).copied()
                } else {
                    edges.above.and_then(|row| row.get(x).copied())
                };
                (
                    side.filter(|&s| s != NONE).map(|s| s.wrapping_add(1)),
                    up.filter(|&s| s != NONE).map(|s| s.wrapping_add(w as u32)),
                )
            } else {
                let side = if x + 1 < w {
                    nnf.get(i + 1).copied()
                } else {
                    None
                };
                let down = if ly + 1 < rows {
                    nnf.get(i + w).copied()
                } else {
                    edges.below.and_then(|row| row.get(x).copied())
                };
                (
                    side.filter(|&s| s != NONE).and_then(|s| s.checked_sub(1)),
                    down.filter(|&s| s != NONE)
                        .and_then(|s| s.checked_sub(w as u32)),
                )
            };
            for cand in [side, vertical].into_iter().flatten() {
                if cand != best && f.is_valid(cand) {
                    let d = f.distance(x, y, cand, best_d);
                    if d < best_d {
                        best = cand;
                        best_d = d;
                    }
                }
            }
            // Random search in windows of shrinking radius around the best match.
            let mut radius = search_radius;
            while radius > 0 && best != NONE && x_hi >= r && y_hi >= r {
                let bx = best as usize % w;
                let by = best as usize / w;
                let cx = between(
                    rng,
                    bx.saturating_sub(radius).max(r),
                    (bx + radius).min(x_hi),
                );
                let cy = between(
                    rng,
                    by.saturating_sub(radius).max(r),
                    (by + radius).min(y_hi),
                );
                let cand = (cy * w + cx) as u32;
                if cand != best && f.is_valid(cand) {
                    let d = f.distance(x, y, cand, best_d);
                    if d < best_d {
                        best = cand;
                        best_d = d;
                    }
                }
                radius /= 2;
            }
            if let (Some(n), Some(d)) = (nnf.get_mut(i), dist.get_mut(i)) {
                *n = best;
                *d = best_d;
            }
        }
    }
}

/// Recomputes `dist` for every target pixel of the rows `y0..` covered by `nnf`/`dist`.
pub fn distances_band(f: &Field<'_>, y0: usize, nnf: &[u32], dist: &mut [u32]) {
    let w = f.width;
    if w == 0 {
        return;
    }
    for (ly, (nrow, drow)) in nnf
        .chunks_exact(w)
        .zip(dist.chunks_exact_mut(w))
        .enumerate()
    {
        let y = y0 + ly;
        for (x, (&s, d)) in nrow.iter().zip(drow.iter_mut()).enumerate() {
            *d = if s == NONE {
                u32::MAX
            } else {
                f.distance(x, y, s, u32::MAX)
            };
        }
    }
}

/// Vote weights in `1..=256` from the per-pixel patch distances: about
/// `1 + 255 · exp(-d / (2 σ²))` with `d` the mean squared difference per pixel and `σ²` the
/// 25th percentile of `d` over the target, so good matches dominate and poor ones still
/// count a little. Wexler et al. (2007) use the 75th percentile; the lower quartile keeps
/// visibly more texture (less averaging of disagreeing patches) at equal PSNR on the
/// scikit-image photos. The exponential is evaluated in integer arithmetic
/// (`2^-t` by shift plus linear interpolation), so weights are bit-identical everywhere.
/// `sample` is scratch.
pub fn weights(f: &Field<'_>, dist: &[u32], weight: &mut Vec<u16>, sample: &mut Vec<u32>) {
    let w = f.width;
    let n = f.width * f.height;
    weight.clear();
    weight.resize(n, 0);
    let per_pixel = |i: usize| -> Option<u32> {
        let d = *dist.get(i)?;
        (d != u32::MAX).then(|| d / f.patch_pixels(i % w, i / w).max(1))
    };
    // A strided sample keeps the percentile cheap and deterministic.
    sample.clear();
    let targets = f.target.iter().filter(|&&t| t != 0).count();
    let stride = (targets / 4096).max(1);
    sample.extend(
        f.target
            .iter()
            .enumerate()
            .filter(|&(_, &t)| t != 0)
            .step_by(stride)
            .filter_map(|(i, _)| per_pixel(i)),
    );
    let k = sample.len() / 4;
    let sigma2 = match sample.get(k) {
        Some(_) => *sample.select_nth_unstable(k).1,
        None => 1,
    }
    .max(1);
    for (i, (wt, &t)) in weight.iter_mut().zip(f.target).enumerate() {
        if t == 0 {
            continue;
        }
        *wt = per_pixel(i).map_or(0, |d| 1 + falloff(d, sigma2));
    }
}

/// `255 · exp(-d / (2 σ²))` in integers: `exp(-x) = 2^(-x / ln 2)`, with the exponent in
/// 1/256 steps (`185 / 256 ≈ 1 / (2 ln 2)`), the integer part as a shift and the fractional
/// part by linear interpolation.
#[inline]
fn falloff(d: u32, sigma2: u32) -> u16 {
    let t = u64::from(d) * 185 / u64::from(sigma2.max(1));
    let whole = t >> 8;
    if whole >= 9 {
        return 0;
    }
    let frac = t & 255;
    ((255 * (512 - frac) / 512) >> whole) as u16
}

/// Patch voting: each hole pixel `q` in `holes` becomes the weighted average, over every
/// target patch `p` that covers it, of the source pixel that `p`'s match puts at `q`.
/// Only known pixels are ever read. Pixels no patch covers keep their estimate.
pub fn vote(f: &Field<'_>, nnf: &[u32], weight: &[u16], holes: &[u32], out: &mut [Vote]) {
    let w = f.width;
    let h = f.height;
    let r = f.radius;
    for (&q, o) in holes.iter().zip(out.iter_mut()) {
        let q = q as usize;
        let (qx, qy) = (q % w, q / w);
        let mut acc = [0u32; 4 + TEX_CHANNELS];
        let mut total = 0u32;
        let (x0, x1) = (qx.saturating_sub(r), (qx + r + 1).min(w));
        for py in qy.saturating_sub(r)..(qy + r + 1).min(h) {
            let row = py * w;
            let (Some(srcs), Some(wts)) =
                (nnf.get(row + x0..row + x1), weight.get(row + x0..row + x1))
            else {
                continue;
            };
            // The source pixel sits at the same offset from s as q does from p, i.e. at
            // s + (q - p); the offset is the same for every p with the same px.
            for (px, (&s, &wt)) in (x0..x1).zip(srcs.iter().zip(wts)) {
                if s == NONE || wt == 0 {
                    continue;
                }
                let src = (s as usize + q).wrapping_sub(row + px);
                let Some(c) = read_vote(f, src) else {
                    continue;
                };
                let wt = u32::from(wt);
                for (a, v) in acc.iter_mut().zip(c) {
                    *a += u32::from(v) * wt;
                }
                total += wt;
            }
        }
        if total > 0 {
            let half = total / 2;
            for (d, a) in o.iter_mut().zip(acc) {
                *d = (a + half).checked_div(total).unwrap_or(0) as u8;
            }
        } else if let Some(c) = read_vote(f, q) {
            *o = c;
        }
    }
}

/// Pixel `i`'s colour and texture features, as a vote.
#[inline]
fn read_vote(f: &Field<'_>, i: usize) -> Option<Vote> {
    let c = f
        .img
        .get(i.wrapping_mul(4)..i.wrapping_mul(4).wrapping_add(4))?;
    let t = f.tex.get(
        i.wrapping_mul(TEX_CHANNELS)..i.wrapping_mul(TEX_CHANNELS).wrapping_add(TEX_CHANNELS),
    )?;
    let mut v = [0u8; 4 + TEX_CHANNELS];
    let (vc, vt) = v.split_at_mut(4);
    vc.copy_from_slice(c);
    vt.copy_from_slice(t);
    Some(v)
}

/// Best-patch reconstruction, first half: for each hole pixel `q` in `holes`, the pixel
/// that the single best-matching target patch covering it (lowest distance per pixel) puts
/// at `q` ([`NONE`] where no matched patch covers it). Copying those pixels in replaces the
/// average of the votes: averaging overlapping patches that disagree by even a pixel of
/// shift low-passes texture; the final pass of Newson et al. (2017) replaces it with this
/// winner-takes-all step, which restores the source's full sharpness once the field has
/// converged. Ties go to the first patch in row-major order, so the result is deterministic.
/// The seam step reads the same sources.
pub fn best_sources(f: &Field<'_>, nnf: &[u32], dist: &[u32], holes: &[u32], sources: &mut [u32]) {
    for (&q, s) in holes.iter().zip(sources.iter_mut()) {
        *s = best_source(f, nnf, dist, q as usize).map_or(NONE, |b| b as u32);
    }
}

/// The source pixel that the best-matching target patch covering pixel `q` (lowest
/// distance per pixel; ties to the first in row-major order) puts at `q`, or `None` when no
/// matched patch covers `q`. Sources are whole known patches, so the pixel is known.
#[must_use]
pub fn best_source(f: &Field<'_>, nnf: &[u32], dist: &[u32], q: usize) -> Option<usize> {
    let (w, h, r) = (f.width, f.height, f.radius);
    let (qx, qy) = (q % w, q / w);
    // (distance, pixels of its patch, source pixel index); distances per pixel are compared
    // by cross-multiplying, which is exact and spares a division per covering patch.
    let mut best: Option<(u64, u64, usize)> = None;
    let (x0, x1) = (qx.saturating_sub(r), (qx + r + 1).min(w));
    for py in qy.saturating_sub(r)..(qy + r + 1).min(h) {
        let row = py * w;
        let (Some(srcs), Some(ds)) = (nnf.get(row + x0..row + x1), dist.get(row + x0..row + x1))
        else {
            continue;
        };
        for (px, (&s, &d)) in (x0..x1).zip(srcs.iter().zip(ds)) {
            if s == NONE || d == u32::MAX {
                continue;
            }
            let (d, n) = (u64::from(d), u64::from(f.patch_pixels(px, py).max(1)));
            if best.is_none_or(|(bd, bn, _)| d * bn < bd * n) {
                best = Some((d, n, (s as usize + q).wrapping_sub(row + px)));
            }
        }
    }
    best.map(|(_, _, src)| src)
}

/// The seam step (see `seams`) on a finished fill: `img` (RGBA8, `width × height`) with
/// the hole pixels `holes` (ascending; `hole` nonzero there) copied from `sources` (one per
/// hole pixel, or [`NONE`]). For benches.
pub fn blend_seams(
    img: &mut [u8],
    hole: &[u8],
    (width, height): (usize, usize),
    holes: &[u32],
    sources: &[u32],
) {
    let mut seams = crate::seams::Seams::default();
    let s = seams.sources_mut(holes.len());
    for (d, &v) in s.iter_mut().zip(sources) {
        *d = v;
    }
    seams.blend(img, hole, (width, height), holes);
}

/// The per-level maps the kernels need, built from an image and its hole map, for benches
/// and tests.
#[derive(Debug, Default)]
pub struct Maps {
    /// See [`Field::valid`].
    pub valid: Vec<u8>,
    /// See [`Field::target`].
    pub target: Vec<u8>,
    /// See [`Field::spans`].
    pub spans: Vec<(u32, u32)>,
    /// See [`Field::tex`] (hole pixels 0, as before the engine initialises them).
    pub tex: Vec<u8>,
    /// See [`Field::hole_rows`].
    pub hole_rows: Vec<u16>,
}

impl Maps {
    /// Builds the maps for patch radius `radius` from the RGBA8 `img` and `hole` (nonzero =
    /// hole).
    #[must_use]
    pub fn new(img: &[u8], hole: &[u8], width: usize, height: usize, radius: usize) -> Self {
        let mut sums = crate::maps::HoleSums::default();
        sums.build(hole, width, height);
        let mut maps = Self::default();
        sums.valid_sources(radius, &mut maps.valid);
        sums.targets(radius, &mut maps.target, &mut maps.spans);
        crate::texture::compute(img, hole, width, height, &mut maps.tex, false);
        hole_rows(hole, width, &mut maps.hole_rows);
        maps
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use super::{Field, HOLE_LANE, KNOWN_LANE, Maps, TEX_CHANNELS, patch_ssd, tex_ssd};

    /// A `w × h` RGBA8 image of hashed bytes (`shift` picks the bits), as patch contents
    /// that no two places share.
    fn noise(w: usize, h: usize, shift: u32) -> Vec<u8> {
        (0..w * h * 4)
            .map(|i| ((i * 2_654_435_761) >> shift) as u8)
            .collect()
    }

    /// A `w × h` hole map marking the `(columns, rows)` rectangles.
    fn rects(w: usize, h: usize, rects: &[(Range<usize>, Range<usize>)]) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let inside = |(xs, ys): &(Range<usize>, Range<usize>)| {
                    xs.contains(&(i % w)) && ys.contains(&(i / w))
                };
                u8::from(rects.iter().any(inside))
            })
            .collect()
    }

    /// The field of `img` with `maps`, its hole pixels weighted when `weighted`.
    fn field<'a>(
        img: &'a [u8],
        maps: &'a Maps,
        (w, h): (usize, usize),
        r: usize,
        weighted: bool,
    ) -> Field<'a> {
        Field {
            hole_rows: if weighted { &maps.hole_rows } else { &[] },
            width: w,
            height: h,
            radius: r,
            img,
            tex: &maps.tex,
            valid: &maps.valid,
            target: &maps.target,
            spans: &maps.spans,
        }
    }

    /// The one-pass distance of whole patches equals the colour and texture sums taken
    /// apart, for every patch size the engine specialises, and stops above the bound.
    #[test]
    fn fused_distance_matches_the_separate_sums() {
        let (w, h) = (40usize, 36usize);
        let img = noise(w, h, 7);
        let hole = rects(w, h, &[(16..22, 14..20)]);
        for pw in [3usize, 5, 7, 9, 11, 13] {
            let r = pw / 2;
            let maps = Maps::new(&img, &hole, w, h, r);
            let f = field(&img, &maps, (w, h), r, false);
            let (x, y) = (18, 16);
            let s = (r + 2) * w + r + 3;
            let t0 = (y - r) * w + x - r;
            let s0 = s - r * w - r;
            let want = patch_ssd(&img, w, t0, s0, pw, pw, u32::MAX)
                + tex_ssd(&maps.tex, w, t0, s0, pw, pw, u32::MAX);
            assert_eq!(f.distance(x, y, s as u32, u32::MAX), want, "{pw}×{pw}");
            assert!(f.distance(x, y, s as u32, want / 3) > want / 3, "{pw}×{pw}");
        }
    }

    /// The weighted distance equals a per-pixel reference: per row
    /// `(128 · known + 19 · hole) / 128` of the squared differences, summed and scaled back
    /// by `128 · pixels / (128 · known + 19 · holes)`, and the plain distance for blocks all
    /// known or all hole; for every specialised width, the generic ones, and blocks clipped
    /// at the image's edge. It stops above the bound.
    #[test]
    fn weighted_distance_matches_a_per_pixel_reference() {
        let (w, h) = (40usize, 36usize);
        let img = noise(w, h, 9);
        let hole = rects(w, h, &[(14..30, 10..26), (0..4, 0..6)]);
        let sq = |a: u8, b: u8| {
            let d = u64::from(a.abs_diff(b));
            d * d
        };
        let mut checked = [0usize; 3];
        for pw in [3usize, 5, 7, 9, 11, 13] {
            let r = pw / 2;
            let maps = Maps::new(&img, &hole, w, h, r);
            let f = field(&img, &maps, (w, h), r, true);
            let s = (h - r - 1) * w + w - r - 1;
            let targets = [
                (12, 12),
                (13, 18),
                (22, 18),
                (20, 11),
                (1, 2),
                (0, 7),
                (3, 0),
            ];
            for (x, y) in targets {
                let (left, up) = (r.min(x), r.min(y));
                let (pw_c, ph_c) = (left + 1 + r.min(w - 1 - x), up + 1 + r.min(h - 1 - y));
                let (t0, s0) = ((y - up) * w + x - left, s - up * w - left);
                let (mut plain, mut acc, mut holes) = (0u64, 0u64, 0u64);
                for k in 0..ph_c {
                    let (mut known, mut holed) = (0u64, 0u64);
                    for p in 0..pw_c {
                        let (ti, si) = (t0 + k * w + p, s0 + k * w + p);
                        let colour: u64 =
                            (0..4).map(|c| sq(img[ti * 4 + c], img[si * 4 + c])).sum();
                        let tex: u64 = (0..TEX_CHANNELS)
                            .map(|c| {
                                sq(
                                    maps.tex[ti * TEX_CHANNELS + c],
                                    maps.tex[si * TEX_CHANNELS + c],
                                )
                            })
                            .sum();
                        if hole[ti] != 0 {
                            holed += colour + tex;
                            holes += 1;
                        } else {
                            known += colour + tex;
                        }
                    }
                    plain += known + holed;
                    let (kl, hl) = (KNOWN_LANE as u64, HOLE_LANE as u64);
                    acc += (kl * known + hl * holed) / kl;
                }
                let pixels = (pw_c * ph_c) as u64;
                let want = if holes == 0 || holes == pixels {
                    checked[usize::from(holes != 0)] += 1;
                    plain
                } else {
                    checked[2] += 1;
                    let (kl, hl) = (KNOWN_LANE as u64, HOLE_LANE as u64);
                    let factor = ((kl * pixels) << 16) / (kl * (pixels - holes) + hl * holes);
                    (acc * factor) >> 16
                } as u32;
                let got = f.distance(x, y, s as u32, u32::MAX);
                assert_eq!(got, want, "{pw}×{pw} at ({x}, {y})");
                assert!(
                    f.distance(x, y, s as u32, want / 3) > want / 3,
                    "{pw}×{pw} at ({x}, {y})"
                );
            }
        }
        // Every kind of block was compared: all known, all hole, mixed.
        assert!(checked.iter().all(|&n| n > 0), "{checked:?}");
    }
}
