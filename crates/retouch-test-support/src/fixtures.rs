//! Image fixtures: PNGs with chosen pixels, OpenAI-convention masks, and decoding helpers.

use std::io::Cursor;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use image::{ImageFormat, Rgba, RgbaImage};

/// Encodes an RGBA image as PNG.
pub fn encode_png(image: &RgbaImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    // Writing PNG into memory cannot fail for a well-formed RgbaImage.
    let _ = image.write_to(&mut out, ImageFormat::Png);
    out.into_inner()
}

/// A `width`×`height` PNG whose pixel at (x, y) is `pixel(x, y)`.
pub fn png_with(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 4]) -> Vec<u8> {
    encode_png(&RgbaImage::from_fn(width, height, |x, y| Rgba(pixel(x, y))))
}

/// An opaque PNG with a deterministic gradient, so that any re-encoding or crop shows.
pub fn photo_png(width: u32, height: u32) -> Vec<u8> {
    png_with(width, height, |x, y| {
        [
            (x * 7 % 256) as u8,
            (y * 13 % 256) as u8,
            ((x + y) * 3 % 256) as u8,
            255,
        ]
    })
}

/// An OpenAI-convention mask: transparent (alpha 0, "edit") inside the rectangle
/// `[x0, x1) × [y0, y1)`, opaque black elsewhere.
pub fn openai_mask_png(width: u32, height: u32, rect: (u32, u32, u32, u32)) -> Vec<u8> {
    let (x0, y0, x1, y1) = rect;
    png_with(width, height, |x, y| {
        if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
            [0, 0, 0, 0]
        } else {
            [0, 0, 0, 255]
        }
    })
}

/// Decodes any supported image to RGBA. Panics on bad input (tests only).
pub fn decode(bytes: &[u8]) -> RgbaImage {
    match image::load_from_memory(bytes) {
        Ok(image) => image.to_rgba8(),
        Err(error) => panic!("not a decodable image ({} bytes): {error}", bytes.len()),
    }
}

/// Decodes a base64 image, with or without a `data:` URL prefix. Panics on bad input.
pub fn decode_b64(text: &str) -> RgbaImage {
    decode(&b64_bytes(text))
}

/// The bytes of a base64 string, with or without a `data:` URL prefix. Panics on bad input.
pub fn b64_bytes(text: &str) -> Vec<u8> {
    let payload = text.split_once(";base64,").map_or(text, |(_, data)| data);
    match STANDARD.decode(payload) {
        Ok(bytes) => bytes,
        Err(error) => panic!("not base64: {error}"),
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The image a mock returns as its `index`-th result: 4×4, red channel `16 × index`, so tests
/// can tell results apart and check their order.
pub fn result_png(index: u64) -> Vec<u8> {
    let red = ((index * 16) % 256) as u8;
    png_with(4, 4, |_, _| [red, 0x80, 0x40, 255])
}

/// The index encoded in a [`result_png`]: its red channel divided by 16.
pub fn result_index(bytes: &[u8]) -> u64 {
    u64::from(decode(bytes).get_pixel(0, 0).0[0] / 16)
}
