//! Procedural inputs shared by the tests, the example and the benches: synthetic images
//! (textures, edges) and the four benchmark mask shapes, all deterministic.

/// The benchmark's mask shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MaskKind {
    /// Centred square, about 12% of the image.
    Square,
    /// Irregular blob, about 25% of the image.
    Blob,
    /// Thin (3 px) scratches, about 3%.
    Scratch,
    /// Thick brush strokes, about 15%.
    Brush,
    /// Transparent margins: left 15% and bottom 12% (canvas extension).
    Outpaint,
}

impl MaskKind {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "square" => Some(Self::Square),
            "blob" => Some(Self::Blob),
            "scratch" => Some(Self::Scratch),
            "brush" => Some(Self::Brush),
            "outpaint" => Some(Self::Outpaint),
            _ => None,
        }
    }
}

/// Distance from `(px, py)` to the segment `a`–`b`.
pub(crate) fn seg_dist(px: f64, py: f64, a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((px - cx).powi(2) + (py - cy).powi(2)).sqrt()
}

/// A mask of the given kind: 1 = fill.
pub(crate) fn mask(kind: MaskKind, w: u32, h: u32) -> Vec<u8> {
    let (wf, hf) = (f64::from(w), f64::from(h));
    let s = wf.min(hf);
    let mut out = vec![0u8; (w * h) as usize];
    let strokes_scratch = [
        ((0.1, 0.2), (0.9, 0.35)),
        ((0.2, 0.85), (0.75, 0.1)),
        ((0.05, 0.6), (0.95, 0.7)),
        ((0.4, 0.05), (0.55, 0.95)),
    ];
    let strokes_brush = [
        ((0.15, 0.25), (0.7, 0.3)),
        ((0.3, 0.75), (0.8, 0.55)),
        ((0.2, 0.4), (0.35, 0.9)),
    ];
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let inside = match kind {
                MaskKind::Square => {
                    let side = (0.12 * wf * hf).sqrt();
                    (px - wf / 2.0).abs() < side / 2.0 && (py - hf / 2.0).abs() < side / 2.0
                }
                MaskKind::Blob => {
                    let (cx, cy) = (wf * 0.52, hf * 0.48);
                    let (dx, dy) = ((px - cx) / wf, (py - cy) / hf);
                    let ang = dy.atan2(dx);
                    let base = (0.25 / std::f64::consts::PI).sqrt();
                    let rad =
                        base * (1.0 + 0.18 * (3.0 * ang).sin() + 0.08 * (5.0 * ang + 1.0).cos());
                    (dx * dx + dy * dy).sqrt() < rad
                }
                MaskKind::Outpaint => px < wf * 0.15 || py > hf * 0.88,
                MaskKind::Scratch => strokes_scratch.iter().any(|&(a, b)| {
                    seg_dist(px, py, (a.0 * wf, a.1 * hf), (b.0 * wf, b.1 * hf)) < 1.5
                }),
                MaskKind::Brush => strokes_brush.iter().any(|&(a, b)| {
                    seg_dist(px, py, (a.0 * wf, a.1 * hf), (b.0 * wf, b.1 * hf)) < s * 0.045
                }),
            };
            if inside {
                out[(y * w + x) as usize] = 1;
            }
        }
    }
    out
}

/// A deterministic pseudo-random generator for test inputs (SplitMix64).
pub(crate) struct TestRng(pub(crate) u64);

impl TestRng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n.max(1))) as u32
    }
}

/// A "photo-like" synthetic scene: sky gradient, a horizon, a textured ground of
/// bricks, a diagonal edge and some noise. RGBA, opaque.
pub(crate) fn scene(w: u32, h: u32, seed: u64) -> Vec<u8> {
    let mut rng = TestRng(seed);
    let mut out = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (f64::from(x) / f64::from(w), f64::from(y) / f64::from(h));
            let noise = (rng.below(17) as i32 - 8) as f64;
            let (r, g, b) = if fy < 0.4 {
                (90.0 + 80.0 * fy, 140.0 + 60.0 * fy, 230.0 - 30.0 * fx)
            } else {
                // Bricks: 24×12 with 2 px mortar, offset every other row.
                let by = y / 12;
                let bx = (x + if by % 2 == 0 { 0 } else { 12 }) / 24;
                let mortar = y % 12 < 2 || (x + if by % 2 == 0 { 0 } else { 12 }) % 24 < 2;
                if mortar {
                    (200.0, 195.0, 185.0)
                } else {
                    let v = f64::from((bx * 7 + by * 13) % 5) * 9.0;
                    (150.0 + v, 70.0 + v / 2.0, 50.0)
                }
            };
            // A dark diagonal pole crossing the scene.
            let d = (fx - 0.3 - 0.4 * fy).abs();
            let (r, g, b) = if d < 0.02 {
                (40.0, 40.0, 45.0)
            } else {
                (r, g, b)
            };
            let c = |v: f64| (v + noise).clamp(0.0, 255.0) as u8;
            out.extend_from_slice(&[c(r), c(g), c(b), 255]);
        }
    }
    out
}

/// A periodic texture (period `p` pixels in both directions) with sharp detail.
pub(crate) fn periodic(w: u32, h: u32, p: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x % p, y % p);
            let r = (u * 255 / p) as u8;
            let g = if (u < p / 2) ^ (v < p / 2) { 220 } else { 30 };
            let b = ((u * 7 + v * 13) % p * 255 / p) as u8;
            out.extend_from_slice(&[r, g, b, 255]);
        }
    }
    out
}

/// Garbage under the mask, as an OpenAI edit region often carries: alpha 0, random RGB.
pub(crate) fn scramble_under_mask(pixels: &mut [u8], mask: &[u8], seed: u64) {
    let mut rng = TestRng(seed);
    for (px, &m) in pixels.chunks_exact_mut(4).zip(mask) {
        if m != 0 {
            let v = rng.next().to_le_bytes();
            px.copy_from_slice(&[v[0], v[1], v[2], 0]);
        }
    }
}

/// Mean squared error over the masked pixels (RGB only).
pub(crate) fn masked_mse(a: &[u8], b: &[u8], mask: &[u8]) -> f64 {
    let mut sum = 0.0;
    let mut n = 0.0;
    for ((pa, pb), &m) in a.chunks_exact(4).zip(b.chunks_exact(4)).zip(mask) {
        if m != 0 {
            for c in 0..3 {
                let d = f64::from(pa[c]) - f64::from(pb[c]);
                sum += d * d;
            }
            n += 3.0;
        }
    }
    if n == 0.0 { 0.0 } else { sum / n }
}

/// Writes an RGBA PNG into `$RETOUCH_FILL_SAVE/<name>.png` when that variable is set.
pub(crate) fn save_if_asked(name: &str, w: u32, h: u32, pixels: &[u8]) {
    if let Some(dir) = std::env::var_os("RETOUCH_FILL_SAVE") {
        let path = std::path::Path::new(&dir).join(format!("{name}.png"));
        let _ = std::fs::create_dir_all(&dir);
        if let Some(img) = image::RgbaImage::from_raw(w, h, pixels.to_vec()) {
            let _ = img.save(path);
        }
    }
}
