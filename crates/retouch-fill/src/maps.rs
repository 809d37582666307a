//! Per-level maps derived from the hole: where a source patch may be taken from, which
//! target patches overlap the hole, and whether the hole is still thicker than a patch.
//!
//! All three are box queries over the hole, answered in O(1) per pixel from one summed-area
//! table.

/// Summed-area table of the hole map plus the box queries the engine needs.
#[derive(Debug, Default)]
pub(crate) struct HoleSums {
    width: usize,
    height: usize,
    /// `(width + 1) * (height + 1)` prefix sums; row 0 and column 0 are zero.
    sums: Vec<u32>,
}

impl HoleSums {
    pub(crate) fn build(&mut self, hole: &[u8], width: usize, height: usize) {
        self.width = width;
        self.height = height;
        let stride = width + 1;
        self.sums.clear();
        self.sums.resize(stride * (height + 1), 0);
        for y in 0..height {
            let mut row = 0u32;
            for x in 0..width {
                row += u32::from(hole.get(y * width + x).copied().unwrap_or(0) != 0);
                let above = self.sums[y * stride + x + 1];
                self.sums[(y + 1) * stride + x + 1] = above + row;
            }
        }
    }

    /// Frees the table's memory (the next [`build`](Self::build) allocates it again).
    pub(crate) fn release(&mut self) {
        self.sums = Vec::new();
    }

    /// Number of hole pixels in the box `[x0, x1) × [y0, y1)` (already clipped to the image).
    fn count(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> u32 {
        let s = self.width + 1;
        let a = self.sums[y1 * s + x1] + self.sums[y0 * s + x0];
        let b = self.sums[y0 * s + x1] + self.sums[y1 * s + x0];
        a - b
    }

    /// The box of radius `r` around `(x, y)`, clipped to the image, as `[x0, x1) × [y0, y1)`.
    fn clip(&self, x: usize, y: usize, r: usize) -> (usize, usize, usize, usize) {
        (
            x.saturating_sub(r),
            y.saturating_sub(r),
            (x + r + 1).min(self.width),
            (y + r + 1).min(self.height),
        )
    }

    /// Fills `valid` with 1 where a patch of radius `r` centred there lies inside the image
    /// and contains no hole pixel. Returns how many such centres exist.
    pub(crate) fn valid_sources(&self, r: usize, valid: &mut Vec<u8>) -> usize {
        let (w, h) = (self.width, self.height);
        valid.clear();
        valid.resize(w * h, 0);
        if w < 2 * r + 1 || h < 2 * r + 1 {
            return 0;
        }
        let mut n = 0;
        for y in r..h - r {
            for x in r..w - r {
                if self.count(x - r, y - r, x + r + 1, y + r + 1) == 0 {
                    valid[y * w + x] = 1;
                    n += 1;
                }
            }
        }
        n
    }

    /// Fills `target` with 1 where the (clipped) patch of radius `r` centred there overlaps
    /// the hole, and `spans` with each row's `[first, last + 1)` column range of such pixels
    /// (`(0, 0)` for a row with none).
    pub(crate) fn targets(&self, r: usize, target: &mut Vec<u8>, spans: &mut Vec<(u32, u32)>) {
        let (w, h) = (self.width, self.height);
        target.clear();
        target.resize(w * h, 0);
        spans.clear();
        spans.resize(h, (0, 0));
        for y in 0..h {
            let mut first = None;
            let mut last = 0;
            for x in 0..w {
                let (x0, y0, x1, y1) = self.clip(x, y, r);
                if self.count(x0, y0, x1, y1) > 0 {
                    target[y * w + x] = 1;
                    first.get_or_insert(x);
                    last = x;
                }
            }
            if let Some(f) = first {
                spans[y] = (f as u32, last as u32 + 1);
            }
        }
    }

    /// Whether some hole pixel is farther than `r` (in the max norm) from every known
    /// pixel, i.e. the hole is still thicker than a patch. The image border does not count
    /// as known, so an outpainting margin is as thick as it is wide.
    pub(crate) fn thicker_than(&self, r: usize) -> bool {
        (0..self.height).any(|y| {
            (0..self.width).any(|x| {
                let (x0, y0, x1, y1) = self.clip(x, y, r);
                self.count(x0, y0, x1, y1) as usize == (x1 - x0) * (y1 - y0)
            })
        })
    }

    /// The hole's depth: the largest `k <= limit` for which [`thicker_than`](Self::thicker_than)
    /// holds (0 also when there is no hole). A binary search, since thickness only shrinks
    /// as `k` grows.
    pub(crate) fn depth(&self, limit: usize) -> usize {
        let (mut lo, mut hi) = (0, limit);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if self.thicker_than(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }
}

#[cfg(test)]
mod tests {
    use super::HoleSums;

    fn square_hole(size: usize, side: usize) -> HoleSums {
        let start = (size - side) / 2;
        let hole: Vec<u8> = (0..size * size)
            .map(|i| {
                let (x, y) = (i % size, i / size);
                u8::from((start..start + side).contains(&x) && (start..start + side).contains(&y))
            })
            .collect();
        let mut sums = HoleSums::default();
        sums.build(&hole, size, size);
        sums
    }

    #[test]
    fn depth_is_the_distance_from_the_deepest_hole_pixel_to_the_known_region() {
        // A 9 px square: its centre pixel has 4 hole pixels on every side.
        assert_eq!(square_hole(32, 9).depth(20), 4);
        assert_eq!(square_hole(32, 10).depth(20), 4);
        assert_eq!(square_hole(32, 1).depth(20), 0);
        assert_eq!(square_hole(32, 0).depth(20), 0);
        // The answer is capped by the limit.
        assert_eq!(square_hole(64, 41).depth(5), 5);
        assert_eq!(square_hole(64, 41).depth(100), 20);
        // The image border is not known: a hole covering all but one corner pixel of a
        // 16 px image is as deep as the image is wide, less that pixel's reach.
        let mut hole = vec![1u8; 16 * 16];
        hole[0] = 0;
        let mut sums = HoleSums::default();
        sums.build(&hole, 16, 16);
        assert_eq!(sums.depth(100), 14);
    }
}
