//! Test-only image fixtures, generated in code so every unusual file is reproducible: 16-bit,
//! palette with tRNS, grey+alpha, APNG, WebP with alpha, JPEG with an EXIF orientation, bombs.

use std::io::Cursor;

use bytes::Bytes;
use image::{DynamicImage, ImageFormat, RgbImage, RgbaImage};

use crate::form::{EditForm, FormPart};

/// Encodes a `DynamicImage` in the given format.
pub(crate) fn encode_dynamic(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// RGBA PNG whose left half is fully transparent (alpha 0), right half opaque grey.
pub(crate) fn png_rgba(w: u32, h: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            image::Rgba([0, 0, 0, 0])
        } else {
            image::Rgba([90, 120, 150, 255])
        }
    });
    encode_dynamic(&DynamicImage::ImageRgba8(img), ImageFormat::Png)
}

/// Opaque RGB PNG.
pub(crate) fn png_rgb(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
    });
    encode_dynamic(&DynamicImage::ImageRgb8(img), ImageFormat::Png)
}

/// Greyscale PNG.
pub(crate) fn png_l(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_pixel(w, h, image::Luma([77]));
    encode_dynamic(&DynamicImage::ImageLuma8(img), ImageFormat::Png)
}

/// Grey + alpha PNG: grey 200, alpha 0 in the top row, 128 elsewhere.
pub(crate) fn png_la(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayAlphaImage::from_fn(w, h, |_, y| {
        image::LumaA([200, if y == 0 { 0 } else { 128 }])
    });
    encode_dynamic(&DynamicImage::ImageLumaA8(img), ImageFormat::Png)
}

/// Opaque JPEG.
pub(crate) fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_pixel(w, h, image::Rgb([180, 40, 40]));
    encode_dynamic(&DynamicImage::ImageRgb8(img), ImageFormat::Jpeg)
}

/// Lossless WebP with alpha: alpha 0 on the left half.
pub(crate) fn webp_rgba(w: u32, h: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([
            (x * 10 % 256) as u8,
            (y * 10 % 256) as u8,
            50,
            if x < w / 2 { 0 } else { 255 },
        ])
    });
    encode_dynamic(&DynamicImage::ImageRgba8(img), ImageFormat::WebP)
}

/// A minimal GIF header (enough to sniff).
pub(crate) fn gif() -> Vec<u8> {
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()
}

/// Writes a PNG with the png crate, for colour types and depths `image` does not write.
pub(crate) fn png_raw(
    w: u32,
    h: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    palette: Option<(&[u8], &[u8])>,
    data: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(depth);
        if let Some((plte, trns)) = palette {
            enc.set_palette(plte.to_vec());
            enc.set_trns(trns.to_vec());
        }
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(data).unwrap();
    }
    out
}

/// APNG whose separate default image is red and whose one animation frame is blue.
pub(crate) fn apng(w: u32, h: u32) -> Vec<u8> {
    let red: Vec<u8> = (0..w * h).flat_map(|_| [255, 0, 0, 255]).collect();
    let blue: Vec<u8> = (0..w * h).flat_map(|_| [0, 0, 255, 255]).collect();
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_animated(1, 0).unwrap();
        enc.set_sep_def_img(true).unwrap();
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(&red).unwrap();
        writer.write_image_data(&blue).unwrap();
    }
    out
}

/// A JPEG `w`×`h` (left half black, right half white) with an EXIF APP1 segment giving
/// `orientation`.
pub(crate) fn jpeg_with_orientation(w: u32, h: u32, orientation: u16) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            image::Rgb([0, 0, 0])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    let plain = encode_dynamic(&DynamicImage::ImageRgb8(img), ImageFormat::Jpeg);
    // TIFF header (little endian), one IFD with one SHORT entry: tag 0x0112 = orientation.
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = u16::try_from(app1.len() + 2).unwrap();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A decompression-bomb header: a valid PNG claiming `w`×`h` RGBA with a tiny zlib stream.
pub(crate) fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // A stored-less zlib stream of a few zero bytes; decoders would inflate rows forever.
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A form with one PNG image (`image`), a prompt, and extra text fields.
pub(crate) fn form_with(image: Vec<u8>, fields: &[(&str, &str)]) -> EditForm {
    let mut form = EditForm::new().with(FormPart::file("image", "a.png", Some("image/png"), image));
    for (k, v) in fields {
        form = form.with(FormPart::text(*k, *v));
    }
    form
}

/// A mask file part.
pub(crate) fn mask_part(data: Vec<u8>) -> FormPart {
    FormPart::file("mask", "mask.png", Some("image/png"), Bytes::from(data))
}
