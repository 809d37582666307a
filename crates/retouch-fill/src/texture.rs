//! Texture features (Newson et al. 2017, "Non-local patch-based image inpainting", IPOL):
//! per pixel, the mean absolute horizontal and vertical luma gradient over a small window,
//! as two extra channels that the patch distance compares and the voting reconstructs.
//!
//! Colour alone cannot tell a smooth first estimate of the hole from a flat region of the
//! source, so a fill that starts smooth settles on flat patches (blur, lost texture). With
//! the features, a hole between textured borders carries "textured" features from the
//! start (they are initialised and upsampled like colours), and flat source patches pay for
//! the mismatch. The features are computed once, from the known pixels of the full-resolution
//! image, and go down the pyramid with the colours; hole features are never computed from
//! the estimate, they are voted from the source patches like colours are.

use crate::par::for_chunks;

/// Bytes per pixel of a feature map: mean |∂x luma|, mean |∂y luma|.
pub(crate) const CHANNELS: usize = 2;

/// Scale of the stored features: mean absolute central difference × `GAIN`, saturated at
/// 255, so a step of `s` grey levels between neighbours stores about `2 s`. Measured on the
/// benchmark photos at 512 px: gain 2 changed little, 4 lowered GMSD on every mask type
/// (e.g. square 0.254 → 0.244) and raised scratch PSNR by 0.5 dB, 8 cost PSNR again.
const GAIN: u32 = 4;

/// Rows per parallel band of the window mean (each band also reads one row on either side).
const BAND_ROWS: usize = 16;

/// Writes the feature map of an RGBA8 image into `tex` (`CHANNELS` bytes per pixel). Only
/// known pixels (hole byte 0) are read: a gradient takes the nearest known neighbours on
/// each side, and the window mean covers known pixels only. Hole pixels get 0 (the engine
/// initialises them like colours). The temporary buffers (about 3 bytes per pixel) are
/// freed on return, so they do not add to the fill's peak memory. Rows are computed on the
/// rayon pool when `parallel`; the result is the same either way.
pub(crate) fn compute(
    img: &[u8],
    hole: &[u8],
    width: usize,
    height: usize,
    tex: &mut Vec<u8>,
    parallel: bool,
) {
    let n = width * height;
    tex.clear();
    tex.resize(n * CHANNELS, 0);
    if n == 0 || img.len() < n * 4 || hole.len() < n {
        return;
    }
    let mut luma = vec![0u8; n];
    for_chunks(&mut luma, width, parallel, |y, row| {
        let px = img.chunks_exact(4).skip(y * width);
        for (l, p) in row.iter_mut().zip(px) {
            let (r, g, b) = (u32::from(p[0]), u32::from(p[1]), u32::from(p[2]));
            *l = ((77 * r + 150 * g + 29 * b + 128) >> 8) as u8;
        }
    });
    // Per-pixel |∂| × 2 (a neighbour difference), from the known neighbours on either side.
    let luma = &luma;
    let diff = |i: usize, prev: Option<usize>, next: Option<usize>| -> u8 {
        let y = |j: usize| i32::from(luma[j]);
        let d = match (
            prev.filter(|&j| hole[j] == 0),
            next.filter(|&j| hole[j] == 0),
        ) {
            (Some(a), Some(b)) => (y(b) - y(a)).unsigned_abs(),
            (Some(a), None) => 2 * (y(i) - y(a)).unsigned_abs(),
            (None, Some(b)) => 2 * (y(b) - y(i)).unsigned_abs(),
            (None, None) => 0,
        };
        d.min(255) as u8
    };
    let mut grad = vec![[0u8; CHANNELS]; n];
    for_chunks(&mut grad, width, parallel, |y, row| {
        for (x, g) in row.iter_mut().enumerate() {
            let i = y * width + x;
            if hole[i] != 0 {
                continue;
            }
            let left = (x > 0).then(|| i - 1);
            let right = (x + 1 < width).then_some(i + 1);
            let up = (y > 0).then(|| i - width);
            let down = (y + 1 < height).then_some(i + width);
            *g = [diff(i, left, right), diff(i, up, down)];
        }
    });
    // 3×3 mean over the known pixels of the window: a texture-energy descriptor, so that a
    // patch is compared on how busy its surroundings are, not on exact edge positions.
    // Separable: horizontal sums (x, y, count) of a band's rows and one row on either side,
    // then vertical.
    let grad = &grad;
    let horizontal = |y: usize, out: &mut [[u16; 3]]| {
        for (x, o) in out.iter_mut().enumerate() {
            let mut a = [0u16; 3];
            for wx in x.saturating_sub(1)..(x + 2).min(width) {
                let j = y * width + wx;
                if hole[j] == 0 {
                    a[0] += u16::from(grad[j][0]);
                    a[1] += u16::from(grad[j][1]);
                    a[2] += 1;
                }
            }
            *o = a;
        }
    };
    for_chunks(tex, BAND_ROWS * width * CHANNELS, parallel, |b, band| {
        let y0 = b * BAND_ROWS;
        let y1 = (y0 + BAND_ROWS).min(height);
        let (first, last) = (y0.saturating_sub(1), (y1 + 1).min(height));
        let mut sums = vec![[0u16; 3]; (last - first) * width];
        for (k, out) in sums.chunks_exact_mut(width).enumerate() {
            horizontal(first + k, out);
        }
        for (y, out) in (y0..y1).zip(band.chunks_exact_mut(width * CHANNELS)) {
            let window = y.saturating_sub(1)..(y + 2).min(height);
            for (x, t) in out.chunks_exact_mut(CHANNELS).enumerate() {
                if hole[y * width + x] != 0 {
                    continue;
                }
                let mut acc = [0u32; 3];
                for wy in window.clone() {
                    for (a, &v) in acc.iter_mut().zip(&sums[(wy - first) * width + x]) {
                        *a += u32::from(v);
                    }
                }
                let count = acc[2].max(1);
                for (c, &a) in t.iter_mut().zip(&acc[..CHANNELS]) {
                    // `a` sums neighbour differences (2× central): × GAIN / 2 per the scale.
                    *c = ((a * GAIN / 2 + count / 2) / count).min(255) as u8;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_is_zero_and_stripes_are_not() {
        let (w, h) = (8usize, 6usize);
        // Vertical stripes, two pixels of 0 and two of 100 grey: horizontal texture only.
        let img: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let v = if (i % w) / 2 % 2 == 0 { 0 } else { 100 };
                [v, v, v, 255]
            })
            .collect();
        let hole = vec![0u8; w * h];
        let mut tex = Vec::new();
        compute(&img, &hole, w, h, &mut tex, false);
        let mid = (3 * w + 4) * CHANNELS;
        assert!(tex[mid] > 40, "x feature {}", tex[mid]);
        assert_eq!(tex[mid + 1], 0);
        let flat = vec![128u8; w * h * 4];
        compute(&flat, &hole, w, h, &mut tex, false);
        assert!(tex.iter().all(|&v| v == 0));
    }

    #[test]
    fn hole_pixels_are_never_read() {
        let (w, h) = (6usize, 5usize);
        let mut img = vec![90u8; w * h * 4];
        let mut hole = vec![0u8; w * h];
        for i in [13usize, 14, 15] {
            hole[i] = 1;
            img[i * 4..i * 4 + 3].copy_from_slice(&[255, 0, 255]);
        }
        let mut tex = Vec::new();
        compute(&img, &hole, w, h, &mut tex, false);
        assert!(tex.iter().all(|&v| v == 0), "{tex:?}");
    }
}
