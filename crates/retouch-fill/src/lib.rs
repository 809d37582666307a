//! Content-aware fill: fills the marked pixels of an RGBA8 image with material taken from
//! the rest of the same image, so that edges and textures continue across the hole.
//!
//! It does **not** synthesise new content (no model, no prompt): every filled pixel's colour
//! and alpha is copied or blended from known pixels of the input, and then shifted in tone
//! towards the hole's border. Removing an object, a
//! watermark or a scratch, or extending a canvas (outpainting transparent margins) work well;
//! inventing an object that is not in the picture does not.
//!
//! # Algorithm
//!
//! Multi-scale PatchMatch (Barnes et al. 2009) with EM-style patch voting (Wexler et al.
//! 2007):
//!
//! 1. **Pyramid.** The image is halved while some hole pixel lies farther than a patch width
//!    from the known region and the shorter side stays above
//!    [`FillOptions::min_level_size`]; thinner holes (scratches, text) are filled at full
//!    resolution alone. A coarse pixel is known when any of its children is, as a
//!    [1 5 5 1]-weighted average of the known pixels around its children only, so the hole
//!    shrinks faster than the image (thin strokes vanish within a few levels) and no level
//!    ever sees a colour from under the hole.
//! 2. **Initialisation.** At the coarsest level the hole is filled by pull-push (halving
//!    until no hole is left, then interpolating back up), then straightened: each hole
//!    pixel looks along 8 directions for the known pixels at either end, and where the two
//!    ends' surroundings agree (and so do those of the parallel lines beside it) it takes
//!    their colours, so a region that runs straight through the hole (a wall under a
//!    horizon) is carried across instead of blended with its neighbour. A hole filled at
//!    full resolution alone starts from its border inwards (onion peel). Every patch
//!    overlapping the hole starts from the source patch just beside the hole: the direction
//!    to the nearest source spreads breadth first from the hole's edge, and each patch takes
//!    the first source along it, so a thin hole starts as a copy of its sides; patches
//!    deeper than about three patch widths start from a random source.
//! 3. **Search.** PatchMatch passes alternate direction: each target patch tries its
//!    neighbours' matches shifted by one pixel (propagation) and random candidates in
//!    windows of halving size around its best match (random search), starting from the
//!    whole image in the coarsest level's first EM step and from 16 px everywhere after it,
//!    where the field only needs local refinement. Sources are only
//!    patches lying wholly in the known region, precomputed per level; distances are integer
//!    sums of squared differences of RGBA and two texture features (mean |∂x|, |∂y| of luma
//!    over 3×3, Newson et al. 2017) with early termination. The features are computed once
//!    from the known pixels and are initialised, upsampled and voted like colours, so a
//!    smooth first estimate of a hole between textured borders does not settle on flat
//!    source patches.
//!    At the coarsest level of a multi-level fill, whose hole starts as a smooth guess, a
//!    target patch's hole pixels count 0.15 of a known pixel in the distance (normalised
//!    back to a plain sum), so a patch on the hole's edge is matched on the true pixels
//!    beside the hole rather than on the guess, and lines entering the hole find their
//!    continuation.
//! 4. **Voting.** Each hole pixel becomes the average of the pixels that all patches covering
//!    it would put there, weighted by `exp(-d / 2σ²)` of the match distance, σ² the lower
//!    quartile of distances (sharper than Wexler's 75th percentile). Search + vote is one
//!    EM step; coarse levels get [`FillOptions::em_iterations`] steps (fewer for a hole that
//!    is only a few patch radii deep there), falling linearly to
//!    [`FillOptions::fine_em_iterations`] at full resolution. At full resolution each pixel
//!    finally takes the pixel of its single best-matching patch (Newson et al.), a plain
//!    copy that keeps the source's texture sharp; in a multi-level fill this replaces the
//!    last step's vote, straight after its search.
//! 5. **Upsampling.** The field of matches is scaled to the next level and voted once before
//!    that level's own EM steps, which keeps the texture sharp.
//! 6. **Seam blending.** The finished fill keeps its copied texture but takes its tone from
//!    the hole's border, as Poisson image editing would: the fill is corrected so that its
//!    steps match the steps its sources take at the same places, towards the known pixels
//!    and (in multi-level fills) between neighbouring copies inside the hole, by a multigrid
//!    Poisson solve. Steps of more than 64 grey levels between copies are kept as edges.
//!    This removes visible seams at the border and between copies, and the wrong tone of a
//!    hole no source matches well.
//!
//! Only patches that overlap the hole are searched and only hole pixels are voted, so cost
//! follows the hole's size, not the image's (plus a few linear passes over the image per
//! level). Rows are processed in fixed bands on the rayon pool; each band's random numbers
//! come from (seed, level, pass, band) and bands read their neighbours' boundary rows from a
//! snapshot, so **the same seed gives byte-identical output on any thread count**, and
//! different seeds give different fills.
//!
//! # Guarantees and limits
//!
//! - Known pixels (mask byte 0) come back bit-exact in all four channels.
//! - Filled pixels are computed from known pixels only; whatever is under the mask in the
//!   input (often garbage RGB under alpha 0) is never read.
//! - An empty mask returns a copy of the image at once; a full mask is
//!   [`FillError::NothingToFillFrom`].
//! - Images smaller than a patch work: the patch shrinks where no whole known patch exists.
//! - At most [`FillOptions::max_pixels`] pixels ([`DEFAULT_MAX_PIXELS`] = 16 MP by default);
//!   working memory is about 25–35 bytes per pixel plus the input.
//! - Malformed input is an error, never a panic.
//! - A large hole is filled with what its surroundings suggest, which is not always what a
//!   person would pick: where the border around the hole has several colours, the coarsest
//!   level can match their blend to another region of similar colour (a dark collar filled
//!   with hair from the head above it). Large fills are also smoother than the photograph:
//!   on the benchmark's squares and blobs they carry 0.3–0.5 of the hidden truth's gradient
//!   energy (the PatchMatch packages 0.3–0.55; thin scratches about 0.8). Another seed gives
//!   another choice, and a tighter mask gives the engine less to invent.
//! - A mask that cuts through an object, leaving part of it beside the hole, can come out
//!   with a soft glow: where the fill puts other material (sky) against the cut, the seam
//!   step's tone correction spreads the object's brightness into the fill. Masking the whole
//!   object (or none of it) avoids this.
//!
//! # Example
//!
//! ```
//! use retouch_fill::{FillOptions, ImageRef, MaskRef, fill};
//!
//! let (w, h) = (64u32, 48u32);
//! let pixels: Vec<u8> = (0..w * h).flat_map(|i| [(i % w * 4) as u8, 90, 160, 255]).collect();
//! let mask: Vec<u8> = (0..w * h).map(|i| u8::from((20..30).contains(&(i % w)))).collect();
//! let out = fill(
//!     ImageRef { width: w, height: h, pixels: &pixels },
//!     MaskRef { width: w, height: h, data: &mask },
//!     &FillOptions::new().seed(7),
//! )?;
//! assert_eq!(out.pixels.len(), pixels.len());
//! # Ok::<(), retouch_fill::FillError>(())
//! ```

mod engine;
mod error;
mod image;
#[doc(hidden)]
pub mod kernels;
mod lines;
mod maps;
mod options;
mod par;
mod poisson;
mod pyramid;
mod seams;
mod texture;

use std::ops::ControlFlow;

pub use engine::{Filler, Progress};
pub use error::FillError;
pub use image::{ImageRef, MaskRef, RgbaImage};
pub use options::{DEFAULT_MAX_PIXELS, FillOptions};

/// Fills the pixels `mask` marks from the rest of `image`, with a fresh [`Filler`] and no
/// progress reporting.
///
/// # Errors
/// See [`Filler::fill`].
pub fn fill(
    image: ImageRef<'_>,
    mask: MaskRef<'_>,
    options: &FillOptions,
) -> Result<RgbaImage, FillError> {
    Filler::new().fill(image, mask, options, &mut |_| ControlFlow::Continue(()))
}
