//! Tests for sniffing, probing, decoding unusual files, encoding round trips and resizing.

use super::*;
use crate::testutil::{
    apng, gif, jpeg, jpeg_with_orientation, png_bomb, png_l, png_la, png_raw, png_rgb, png_rgba,
    webp_rgba,
};

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

#[test]
fn sniffs_supported_and_refused_formats() {
    assert_eq!(sniff(&png_rgb(1, 1)), Some(SniffedFormat::Png));
    assert_eq!(sniff(&jpeg(2, 2)), Some(SniffedFormat::Jpeg));
    assert_eq!(sniff(&webp_rgba(2, 2)), Some(SniffedFormat::Webp));
    assert_eq!(sniff(&gif()), Some(SniffedFormat::Gif));
    assert_eq!(
        sniff(b"BM\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
        Some(SniffedFormat::Bmp)
    );
    assert_eq!(sniff(b"II*\0\x08\0\0\0"), Some(SniffedFormat::Tiff));
    assert_eq!(
        sniff(b"\0\0\0\x1cftypavif\0\0\0\0"),
        Some(SniffedFormat::Avif)
    );
    assert_eq!(
        sniff(b"\0\0\0\x18ftypheic\0\0\0\0"),
        Some(SniffedFormat::Heif)
    );
    assert_eq!(sniff(b"%PDF-1.7"), Some(SniffedFormat::Pdf));
    assert_eq!(
        sniff(b"<?xml version=\"1.0\"?><svg xmlns=\"\">"),
        Some(SniffedFormat::Svg)
    );
    assert_eq!(sniff(b"8BPS\0\x01"), Some(SniffedFormat::Psd));
    assert_eq!(sniff(b"hello world"), None);
    assert_eq!(sniff(b""), None);
    assert_eq!(sniff(b"RIFF\0\0\0\0WAVE"), None);
    assert_eq!(SniffedFormat::Gif.supported(), None);
    assert_eq!(SniffedFormat::Webp.supported(), Some(ImageFormat::Webp));
}

#[test]
fn probes_colour_models_like_pillow_names_them() {
    let i = probe(&png_rgba(5, 3)).unwrap();
    assert_eq!(
        (i.format, i.width, i.height, i.has_alpha),
        (ImageFormat::Png, 5, 3, true)
    );
    assert_eq!(
        (i.color, i.pil_mode(), i.bit_depth),
        (ColorModel::Rgba, "RGBA", 8)
    );
    let i = probe(&png_rgb(5, 3)).unwrap();
    assert_eq!((i.pil_mode(), i.has_alpha), ("RGB", false));
    assert_eq!(probe(&png_l(2, 2)).unwrap().pil_mode(), "L");
    assert_eq!(probe(&png_la(2, 2)).unwrap().pil_mode(), "LA");
    let sixteen = png_raw(
        2,
        1,
        png::ColorType::Grayscale,
        png::BitDepth::Sixteen,
        None,
        &[0, 1, 2, 3],
    );
    let i = probe(&sixteen).unwrap();
    assert_eq!(
        (i.bit_depth, i.pil_mode(), i.has_alpha),
        (16, "I;16", false)
    );
    let pal = png_raw(
        2,
        1,
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        Some((&[255, 0, 0, 0, 255, 0], &[0])),
        &[0, 1],
    );
    let i = probe(&pal).unwrap();
    assert_eq!(
        (i.color, i.has_alpha, i.pil_mode()),
        (ColorModel::Palette { trns: true }, true, "P")
    );
    let i = probe(&jpeg(7, 5)).unwrap();
    assert_eq!(
        (i.format, i.width, i.height, i.color, i.has_alpha),
        (ImageFormat::Jpeg, 7, 5, ColorModel::Rgb, false)
    );
    let i = probe(&webp_rgba(6, 4)).unwrap();
    assert_eq!(
        (i.format, i.width, i.height, i.has_alpha),
        (ImageFormat::Webp, 6, 4, true)
    );
    assert!(probe(&apng(3, 3)).unwrap().animated);
    assert!(!probe(&png_rgb(3, 3)).unwrap().animated);
}

#[test]
fn probe_reports_unsupported_and_unrecognised() {
    assert_eq!(
        probe(&gif()),
        Err(ImageError::Unsupported(SniffedFormat::Gif))
    );
    assert_eq!(probe(b"plain text"), Err(ImageError::Unrecognized));
    let mut truncated = png_rgb(4, 4);
    truncated.truncate(20);
    assert!(matches!(probe(&truncated), Err(ImageError::Corrupt(_))));
}

#[test]
fn exif_orientation_swaps_dimensions_and_is_applied() {
    let bytes = jpeg_with_orientation(16, 8, 6);
    let i = probe(&bytes).unwrap();
    assert_eq!(i.orientation, Orientation::Rotate90);
    assert_eq!(
        (i.width, i.height),
        (8, 16),
        "oriented = what a person sees"
    );
    let d = decode_rgba(&bytes, &limits()).unwrap();
    assert_eq!((d.width, d.height), (8, 16));
    // Rotating 90° clockwise moves the black left half to the top.
    let px = |x: u32, y: u32| d.rgba[((y * d.width + x) * 4) as usize];
    assert!(px(4, 2) < 60, "top should be dark, got {}", px(4, 2));
    assert!(
        px(4, 13) > 200,
        "bottom should be bright, got {}",
        px(4, 13)
    );
    let plain = probe(&jpeg_with_orientation(16, 8, 1)).unwrap();
    assert_eq!(
        (plain.width, plain.height, plain.orientation),
        (16, 8, Orientation::Normal)
    );
}

#[test]
fn decodes_sixteen_bit_to_eight_bit() {
    // RGBA16: one pixel (65535, 0x8080, 0, 65535).
    let data = [0xff, 0xff, 0x80, 0x80, 0, 0, 0xff, 0xff];
    let bytes = png_raw(
        1,
        1,
        png::ColorType::Rgba,
        png::BitDepth::Sixteen,
        None,
        &data,
    );
    let d = decode_rgba(&bytes, &limits()).unwrap();
    assert_eq!(d.rgba, vec![255, 128, 0, 255]);
}

#[test]
fn decodes_palette_with_trns_to_alpha() {
    let bytes = png_raw(
        2,
        1,
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        Some((&[255, 0, 0, 0, 255, 0], &[0, 200])),
        &[0, 1],
    );
    let d = decode_rgba(&bytes, &limits()).unwrap();
    assert_eq!(d.rgba, vec![255, 0, 0, 0, 0, 255, 0, 200]);
}

#[test]
fn decodes_grey_alpha_and_one_by_one() {
    let d = decode_rgba(&png_la(2, 2), &limits()).unwrap();
    assert_eq!(&d.rgba[..8], &[200, 200, 200, 0, 200, 200, 200, 0]);
    assert_eq!(&d.rgba[8..12], &[200, 200, 200, 128]);
    let d = decode_rgba(&png_rgb(1, 1), &limits()).unwrap();
    assert_eq!((d.width, d.height, d.rgba.len()), (1, 1, 4));
}

#[test]
fn apng_yields_its_default_image() {
    let d = decode_rgba(&apng(3, 2), &limits()).unwrap();
    assert_eq!((d.width, d.height), (3, 2));
    assert!(
        d.rgba.chunks_exact(4).all(|p| p == [255, 0, 0, 255]),
        "default image is red"
    );
}

#[test]
fn webp_with_alpha_round_trips_exactly() {
    let bytes = webp_rgba(6, 4);
    let d = decode_rgba(&bytes, &limits()).unwrap();
    assert_eq!(d.rgba[3], 0);
    assert_eq!(d.rgba[(5 * 4 + 3) as usize], 255);
    let again = encode(&d.rgba, 6, 4, OutputFormat::Webp, None).unwrap();
    assert_eq!(decode_rgba(&again, &limits()).unwrap().rgba, d.rgba);
}

#[test]
fn corrupt_files_are_errors_not_panics() {
    let good = png_rgb(16, 16);
    // Flip a byte inside the IDAT payload so its CRC no longer matches.
    let idat = good.windows(4).position(|w| w == b"IDAT").unwrap();
    let mut bad_crc = good.clone();
    bad_crc[idat + 6] ^= 0xff;
    assert!(
        matches!(
            decode_rgba(&bad_crc, &limits()),
            Err(ImageError::Corrupt(_))
        ),
        "{:?}",
        decode_rgba(&bad_crc, &limits())
    );
    let mut truncated = good.clone();
    truncated.truncate(idat + 10);
    assert!(matches!(
        decode_rgba(&truncated, &limits()),
        Err(ImageError::Corrupt(_))
    ));
    let mut jpeg_cut = jpeg(32, 32);
    jpeg_cut.truncate(jpeg_cut.len() / 2);
    // A truncated JPEG either errors or decodes padded; it must never panic.
    let _ = decode_rgba(&jpeg_cut, &limits());
    assert!(decode_rgba(b"\x89PNG\r\n\x1a\n", &limits()).is_err());
}

#[test]
fn bomb_headers_are_refused_before_allocation() {
    let bomb = png_bomb(100_000, 100_000);
    assert_eq!(
        decode_rgba(&bomb, &limits()),
        Err(ImageError::TooLarge {
            width: 100_000,
            height: 100_000,
            limit: 16 * 1024 * 1024
        })
    );
    let info = probe(&bomb).unwrap();
    assert_eq!(info.pixels(), 10_000_000_000);
    let small = DecodeLimits {
        max_pixels: 100,
        max_alloc: 1 << 20,
    };
    assert!(matches!(
        decode_rgba(&png_rgb(11, 10), &small),
        Err(ImageError::TooLarge { .. })
    ));
    let tight = DecodeLimits {
        max_pixels: 1 << 20,
        max_alloc: 16,
    };
    assert!(matches!(
        decode_rgba(&png_rgb(4, 4), &tight),
        Err(ImageError::MemoryLimit { .. })
    ));
}

#[test]
fn encode_round_trips() {
    let d = decode_rgba(&png_rgba(8, 6), &limits()).unwrap();
    let png = encode(&d.rgba, 8, 6, OutputFormat::Png, None).unwrap();
    assert_eq!(decode_rgba(&png, &limits()).unwrap().rgba, d.rgba);
    let opaque = decode_rgba(&png_rgb(8, 6), &limits()).unwrap();
    let png = encode(&opaque.rgba, 8, 6, OutputFormat::Png, None).unwrap();
    assert_eq!(
        probe(&png).unwrap().color,
        ColorModel::Rgb,
        "opaque results are written as RGB"
    );
    assert_eq!(decode_rgba(&png, &limits()).unwrap().rgba, opaque.rgba);

    let jpg = encode(&d.rgba, 8, 6, OutputFormat::Jpeg, Some(90)).unwrap();
    let back = decode_rgba(&jpg, &limits()).unwrap();
    assert_eq!((back.width, back.height), (8, 6));
    // Transparent pixels are composited over white.
    assert!(
        back.rgba[..3].iter().all(|&c| c > 230),
        "{:?}",
        &back.rgba[..4]
    );

    let noisy: Vec<u8> = (0..64 * 64)
        .flat_map(|i: u32| {
            [
                (i * 7 % 251) as u8,
                (i * 13 % 241) as u8,
                (i % 255) as u8,
                255,
            ]
        })
        .collect();
    let hi = encode(&noisy, 64, 64, OutputFormat::Jpeg, Some(100)).unwrap();
    let lo = encode(&noisy, 64, 64, OutputFormat::Jpeg, Some(10)).unwrap();
    assert!(
        lo.len() < hi.len(),
        "lower quality is smaller: {} vs {}",
        lo.len(),
        hi.len()
    );
    assert!(
        encode(&noisy, 64, 64, OutputFormat::Jpeg, Some(0)).is_ok(),
        "0 clamps to quality 1"
    );

    assert!(matches!(
        encode(&[0; 7], 1, 2, OutputFormat::Png, None),
        Err(ImageError::InvalidBuffer(_))
    ));
    assert!(matches!(
        encode(&[], 0, 0, OutputFormat::Png, None),
        Err(ImageError::InvalidBuffer(_))
    ));
}

#[test]
fn resize_changes_dimensions_without_alpha_bleed() {
    let solid: Vec<u8> = (0..16).flat_map(|_| [10, 20, 30, 255]).collect();
    let out = resize_rgba(&solid, 4, 4, 2, 3).unwrap();
    assert_eq!(out.len(), 2 * 3 * 4);
    assert!(out.chunks_exact(4).all(|p| p == [10, 20, 30, 255]));
    // Left half: transparent but red underneath; right half: opaque blue.
    let img: Vec<u8> = (0..8 * 8)
        .flat_map(|i| {
            if i % 8 < 4 {
                [255, 0, 0, 0]
            } else {
                [0, 0, 255, 255]
            }
        })
        .collect();
    let out = resize_rgba(&img, 8, 8, 16, 16).unwrap();
    for px in out.chunks_exact(4).filter(|p| p[3] > 0) {
        assert!(
            px[0] < 5,
            "hidden red must not bleed into visible pixels: {px:?}"
        );
    }
    assert_eq!(resize_rgba(&solid, 4, 4, 4, 4).unwrap(), solid);
    assert!(resize_rgba(&solid, 4, 4, 0, 4).is_err());
    assert!(resize_rgba(&solid, 3, 4, 2, 2).is_err());
}

#[test]
fn edit_mask_follows_openai_alpha_rule() {
    assert_eq!(
        edit_mask_from_alpha(&[1, 2, 3, 0, 1, 2, 3, 1, 0, 0, 0, 255]),
        vec![255, 0, 0]
    );
}
