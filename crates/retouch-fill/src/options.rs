//! `FillOptions`: the tuning knobs of a fill, as a by-value builder with documented defaults.

/// Default pixel limit: 16 MP (`16 * 1024 * 1024` pixels, e.g. 4096×4096).
///
/// Working memory is roughly 25–35 bytes per pixel on top of the input, so the default bounds
/// one fill to about half a gigabyte in the worst case.
pub const DEFAULT_MAX_PIXELS: u64 = 16 * 1024 * 1024;

/// Options of a fill. Build with [`FillOptions::new`] and the chained setters;
/// `FillOptions::default() == FillOptions::new()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FillOptions {
    pub(crate) patch_size: u32,
    pub(crate) levels: Option<u32>,
    pub(crate) min_level_size: u32,
    pub(crate) iterations: u32,
    pub(crate) em_iterations: u32,
    pub(crate) fine_em_iterations: u32,
    pub(crate) seed: u64,
    pub(crate) max_pixels: u64,
    pub(crate) parallel: bool,
}

impl Default for FillOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl FillOptions {
    /// The defaults: 7×7 patches, automatic pyramid depth with levels no smaller than 64 px,
    /// 2 PatchMatch passes per EM step, 6 EM steps at the coarsest level falling to 1 at the
    /// finest, seed 0, at most [`DEFAULT_MAX_PIXELS`], parallel.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            patch_size: 7,
            levels: None,
            min_level_size: 64,
            iterations: 2,
            em_iterations: 6,
            fine_em_iterations: 1,
            seed: 0,
            max_pixels: DEFAULT_MAX_PIXELS,
            parallel: true,
        }
    }

    /// Side of the square patches that are matched and copied. Default 7.
    ///
    /// Even values are rounded up to the next odd one; the value is clamped to 3..=15.
    /// Larger patches keep bigger structures together but blur fine texture and cost
    /// quadratically more. Images smaller than a patch still fill: the engine shrinks the
    /// patch at levels where no full patch of known pixels exists.
    ///
    /// A repeating texture is continued in phase through a large hole when one patch spans
    /// its period at the coarsest level, where the phase is chosen: with the defaults, a
    /// period up to 6 px there (a large hole's coarsest level is 64–127 px on its shorter
    /// side, see [`min_level_size`](Self::min_level_size)). A longer period (a tiled floor
    /// or a brick wall seen close) may come out with a cell out of step; a larger patch
    /// fixes that, at about `(size / 7)²` the time.
    #[must_use]
    pub const fn patch_size(mut self, size: u32) -> Self {
        let odd = size | 1;
        self.patch_size = if odd < 3 {
            3
        } else if odd > 15 {
            15
        } else {
            odd
        };
        self
    }

    /// Number of pyramid levels, `Some(1)` = work at full resolution only. Default `None`:
    /// halve until the hole is no thicker than a patch at the coarsest level, or until the
    /// shorter side would drop below [`min_level_size`](Self::min_level_size).
    /// An explicit value is still capped so that no level is smaller than 1 pixel.
    #[must_use]
    pub const fn levels(mut self, levels: Option<u32>) -> Self {
        self.levels = match levels {
            Some(0) => Some(1),
            other => other,
        };
        self
    }

    /// Shortest side, in pixels, of the coarsest level chosen automatically. Default 64,
    /// lowered for small images to half their shorter side (but not below 32), so they still
    /// get one coarser level. Thin holes stop earlier, by the thickness rule of
    /// [`levels`](Self::levels).
    ///
    /// The coarsest level decides a large hole's layout. At 128 px a hole a third of the
    /// picture wide is still six patches across there, and the EM steps settle on one
    /// source texture repeated across it (a woven carpet of fur or hair in the benchmark's
    /// square and blob holes); at 64 px the layout follows the surroundings (the saucer's
    /// rim, the suit) and the fur reads as fur. It costs 0.2–0.4 dB PSNR and 0.005 GMSD on
    /// those masks, which reward a hedged, smoother fill, and saves 10–20% of the time.
    /// At 32 px the fill copies whole objects into the hole (a launch tower into the sky).
    #[must_use]
    pub const fn min_level_size(mut self, size: u32) -> Self {
        self.min_level_size = if size < 8 { 8 } else { size };
        self
    }

    /// PatchMatch passes (propagation + random search) per EM step. Default 2, at least 1.
    #[must_use]
    pub const fn iterations(mut self, passes: u32) -> Self {
        self.iterations = if passes == 0 { 1 } else { passes };
        self
    }

    /// EM steps (search, then vote) at the coarsest level. Default 6, at least 1.
    /// A hole that is thin at the coarsest level (brush strokes) gets fewer, about its depth
    /// in patch radii plus 2, since more steps no longer change its fill.
    /// Levels in between interpolate linearly towards [`fine_em_iterations`](Self::fine_em_iterations).
    #[must_use]
    pub const fn em_iterations(mut self, steps: u32) -> Self {
        self.em_iterations = if steps == 0 { 1 } else { steps };
        self
    }

    /// EM steps at the finest (full-resolution) level. Default 1, at least 1.
    /// The finest level starts from an already good upsampled solution, so one step is
    /// usually enough; more sharpen slightly at a proportional cost.
    #[must_use]
    pub const fn fine_em_iterations(mut self, steps: u32) -> Self {
        self.fine_em_iterations = if steps == 0 { 1 } else { steps };
        self
    }

    /// Seed of the random search. Default 0. The same seed gives byte-identical output on
    /// any machine and thread count; different seeds give different plausible fills.
    #[must_use]
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Largest accepted `width * height`. Default [`DEFAULT_MAX_PIXELS`] (16 MP).
    #[must_use]
    pub const fn max_pixels(mut self, pixels: u64) -> Self {
        self.max_pixels = pixels;
        self
    }

    /// Use the current rayon thread pool. Default `true`. The output does not depend on
    /// this setting; `false` runs everything on the calling thread.
    #[must_use]
    pub const fn parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// The patch side in effect.
    #[must_use]
    pub const fn get_patch_size(&self) -> u32 {
        self.patch_size
    }

    /// The seed in effect.
    #[must_use]
    pub const fn get_seed(&self) -> u64 {
        self.seed
    }

    /// The pixel limit in effect.
    #[must_use]
    pub const fn get_max_pixels(&self) -> u64 {
        self.max_pixels
    }
}
