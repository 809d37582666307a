//! Image sniffing, header probing, bounded decoding, encoding and resizing.
//!
//! Everything a request's images go through before and after the engine: `sniff` recognises a
//! format from magic bytes (including ones we refuse, so the error can name them), `probe` reads
//! headers only (dimensions, colour model, EXIF orientation) without allocating pixels, and
//! `decode_rgba` refuses oversized images from the header before it allocates anything, so a
//! decompression bomb costs a few kilobytes. Results are RGBA8 with EXIF orientation applied, so a
//! mask lines up with what a person sees. Mapping these errors to OpenAI messages is `rules.rs`'s
//! job; nothing here knows about HTTP.

use std::fmt;
use std::io::Cursor;

use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::{WebPDecoder, WebPEncoder};
use image::metadata::Orientation as ImageOrientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageEncoder, ImageReader, Limits};

use crate::params::OutputFormat;

/// JPEG quality used when the request gives no `output_compression` (visually lossless, and far
/// smaller than OpenAI's nominal 100).
pub const DEFAULT_JPEG_QUALITY: u8 = 95;

/// Bytes the PNG header parser may allocate for metadata chunks (ICC profiles, text).
const PNG_METADATA_LIMIT: usize = 16 * 1024 * 1024;

/// The image formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// PNG (including APNG: the default image is used).
    Png,
    /// JPEG (baseline and progressive).
    Jpeg,
    /// WebP (lossy, lossless, with alpha).
    Webp,
}

impl ImageFormat {
    /// Display name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Webp => "WebP",
        }
    }

    /// MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }

    fn to_image(self) -> image::ImageFormat {
        match self {
            Self::Png => image::ImageFormat::Png,
            Self::Jpeg => image::ImageFormat::Jpeg,
            Self::Webp => image::ImageFormat::WebP,
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A format recognised from magic bytes, including ones we refuse (so errors can name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SniffedFormat {
    /// Supported: PNG/APNG.
    Png,
    /// Supported: JPEG.
    Jpeg,
    /// Supported: WebP.
    Webp,
    /// GIF (refused).
    Gif,
    /// BMP (refused).
    Bmp,
    /// TIFF (refused).
    Tiff,
    /// ICO (refused).
    Ico,
    /// AVIF (refused).
    Avif,
    /// HEIC/HEIF (refused).
    Heif,
    /// JPEG XL (refused).
    Jxl,
    /// Photoshop (refused).
    Psd,
    /// PDF (refused).
    Pdf,
    /// SVG (refused; recognised by an `<svg` tag near the start).
    Svg,
}

impl SniffedFormat {
    /// The readable format, or `None` for formats we refuse.
    pub fn supported(self) -> Option<ImageFormat> {
        match self {
            Self::Png => Some(ImageFormat::Png),
            Self::Jpeg => Some(ImageFormat::Jpeg),
            Self::Webp => Some(ImageFormat::Webp),
            Self::Gif
            | Self::Bmp
            | Self::Tiff
            | Self::Ico
            | Self::Avif
            | Self::Heif
            | Self::Jxl
            | Self::Psd
            | Self::Pdf
            | Self::Svg => None,
        }
    }

    /// Display name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Webp => "WebP",
            Self::Gif => "GIF",
            Self::Bmp => "BMP",
            Self::Tiff => "TIFF",
            Self::Ico => "ICO",
            Self::Avif => "AVIF",
            Self::Heif => "HEIF",
            Self::Jxl => "JPEG XL",
            Self::Psd => "PSD",
            Self::Pdf => "PDF",
            Self::Svg => "SVG",
        }
    }
}

impl fmt::Display for SniffedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Recognises a file format from its first bytes; `None` if it is not a known image format.
pub fn sniff(bytes: &[u8]) -> Option<SniffedFormat> {
    let starts = |sig: &[u8]| bytes.starts_with(sig);
    let ftyp_brand = || (bytes.len() >= 12 && &bytes[4..8] == b"ftyp").then(|| &bytes[8..12]);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some(SniffedFormat::Png)
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Some(SniffedFormat::Jpeg)
    } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(SniffedFormat::Webp)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(SniffedFormat::Gif)
    } else if starts(b"BM") && bytes.len() >= 14 {
        Some(SniffedFormat::Bmp)
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some(SniffedFormat::Tiff)
    } else if starts(&[0, 0, 1, 0]) || starts(&[0, 0, 2, 0]) {
        Some(SniffedFormat::Ico)
    } else if let Some(brand) = ftyp_brand() {
        match brand {
            b"avif" | b"avis" => Some(SniffedFormat::Avif),
            b"heic" | b"heix" | b"hevc" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                Some(SniffedFormat::Heif)
            }
            _ => None,
        }
    } else if starts(&[0xFF, 0x0A]) || starts(b"\0\0\0\x0CJXL \r\n\x87\n") {
        Some(SniffedFormat::Jxl)
    } else if starts(b"8BPS") {
        Some(SniffedFormat::Psd)
    } else if starts(b"%PDF-") {
        Some(SniffedFormat::Pdf)
    } else if looks_like_svg(bytes) {
        Some(SniffedFormat::Svg)
    } else {
        None
    }
}

fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let t = text.trim_start();
    (t.starts_with('<')) && text.contains("<svg")
}

/// The colour model as stored in the file (before any conversion).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColorModel {
    /// Greyscale.
    L,
    /// Greyscale with alpha.
    La,
    /// RGB (also YCbCr JPEG and lossy WebP without alpha).
    Rgb,
    /// RGB with alpha.
    Rgba,
    /// PNG palette; `trns` when a tRNS chunk makes some entries transparent.
    Palette {
        /// Whether a tRNS chunk is present.
        trns: bool,
    },
    /// CMYK JPEG.
    Cmyk,
}

impl ColorModel {
    /// The mode name Pillow reports for this file, as OpenAI's dall-e-2 errors quote it
    /// (`Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB.`).
    pub fn pil_mode(self, bit_depth: u8) -> &'static str {
        match self {
            Self::L if bit_depth == 1 => "1",
            Self::L if bit_depth == 16 => "I;16",
            Self::L => "L",
            Self::La => "LA",
            Self::Rgb => "RGB",
            Self::Rgba => "RGBA",
            Self::Palette { .. } => "P",
            Self::Cmyk => "CMYK",
        }
    }
}

/// EXIF orientation (values 1..=8), applied on decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Orientation {
    /// 1: as stored.
    Normal,
    /// 2: mirrored horizontally.
    FlipHorizontal,
    /// 3: rotated 180°.
    Rotate180,
    /// 4: mirrored vertically.
    FlipVertical,
    /// 5: rotated 90° clockwise and mirrored horizontally.
    Rotate90FlipH,
    /// 6: rotated 90° clockwise.
    Rotate90,
    /// 7: rotated 270° clockwise and mirrored horizontally.
    Rotate270FlipH,
    /// 8: rotated 270° clockwise.
    Rotate270,
}

impl Orientation {
    /// Whether displaying the image swaps width and height.
    pub fn swaps_dimensions(self) -> bool {
        match self {
            Self::Rotate90FlipH | Self::Rotate90 | Self::Rotate270FlipH | Self::Rotate270 => true,
            Self::Normal | Self::FlipHorizontal | Self::Rotate180 | Self::FlipVertical => false,
        }
    }

    fn from_image(o: ImageOrientation) -> Self {
        match o {
            ImageOrientation::NoTransforms => Self::Normal,
            ImageOrientation::FlipHorizontal => Self::FlipHorizontal,
            ImageOrientation::Rotate180 => Self::Rotate180,
            ImageOrientation::FlipVertical => Self::FlipVertical,
            ImageOrientation::Rotate90FlipH => Self::Rotate90FlipH,
            ImageOrientation::Rotate90 => Self::Rotate90,
            ImageOrientation::Rotate270FlipH => Self::Rotate270FlipH,
            ImageOrientation::Rotate270 => Self::Rotate270,
        }
    }

    fn to_image(self) -> ImageOrientation {
        match self {
            Self::Normal => ImageOrientation::NoTransforms,
            Self::FlipHorizontal => ImageOrientation::FlipHorizontal,
            Self::Rotate180 => ImageOrientation::Rotate180,
            Self::FlipVertical => ImageOrientation::FlipVertical,
            Self::Rotate90FlipH => ImageOrientation::Rotate90FlipH,
            Self::Rotate90 => ImageOrientation::Rotate90,
            Self::Rotate270FlipH => ImageOrientation::Rotate270FlipH,
            Self::Rotate270 => ImageOrientation::Rotate270,
        }
    }
}

/// Header facts about an image, read without decoding pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageInfo {
    /// The file format.
    pub format: ImageFormat,
    /// Width as a person sees it (after EXIF orientation).
    pub width: u32,
    /// Height as a person sees it (after EXIF orientation).
    pub height: u32,
    /// Whether the image can carry transparency (alpha channel or palette tRNS).
    pub has_alpha: bool,
    /// The stored colour model.
    pub color: ColorModel,
    /// Bits per sample as stored (1, 2, 4, 8 or 16).
    pub bit_depth: u8,
    /// EXIF orientation (applied by `decode_rgba`).
    pub orientation: Orientation,
    /// Whether the file is animated (APNG, animated WebP); only the default/first image is used.
    pub animated: bool,
}

impl ImageInfo {
    /// Pixel count.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Pillow's mode name for this file (see [`ColorModel::pil_mode`]).
    pub fn pil_mode(&self) -> &'static str {
        self.color.pil_mode(self.bit_depth)
    }
}

/// Why an image could not be read, decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Not an image format we recognise at all.
    #[error("not a PNG, JPEG or WebP image")]
    Unrecognized,
    /// A recognised format we do not read.
    #[error("{0} images are not supported; use PNG, JPEG or WebP")]
    Unsupported(SniffedFormat),
    /// More pixels than allowed (checked from the header, before allocating).
    #[error("image is {width}x{height} pixels; the maximum is {limit} pixels")]
    TooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The pixel limit.
        limit: u64,
    },
    /// Decoding would need more memory than allowed.
    #[error("decoding needs {needed} bytes; the limit is {limit} bytes")]
    MemoryLimit {
        /// Bytes needed.
        needed: u64,
        /// The limit.
        limit: u64,
    },
    /// The decoder refused to allocate what the file asks for.
    #[error("decoder limit exceeded: {0}")]
    DecoderLimit(String),
    /// The file is damaged or truncated.
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// A pixel buffer handed to us does not match its dimensions (a caller bug).
    #[error("invalid pixel buffer: {0}")]
    InvalidBuffer(String),
    /// The encoder failed.
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// Limits applied when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most pixels (width × height) an image may have.
    pub max_pixels: u64,
    /// Most bytes the decoder may allocate for pixel data.
    pub max_alloc: u64,
}

impl DecodeLimits {
    /// Limits for `max_pixels`, allowing a 16-bit RGBA decode plus its RGBA8 copy.
    pub fn for_pixels(max_pixels: u64) -> Self {
        Self {
            max_pixels,
            max_alloc: max_pixels.saturating_mul(8),
        }
    }
}

impl Default for DecodeLimits {
    /// 16 MP (`16 * 1024 * 1024` pixels), the local engine's default limit.
    fn default() -> Self {
        Self::for_pixels(crate::rules::DEFAULT_MAX_PIXELS)
    }
}

/// A decoded image: RGBA8, row-major, EXIF orientation applied.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodedImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub rgba: Vec<u8>,
}

impl fmt::Debug for DecodedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("rgba_len", &self.rgba.len())
            .finish()
    }
}

fn not_readable(bytes: &[u8]) -> ImageError {
    match sniff(bytes) {
        Some(f) if f.supported().is_none() => ImageError::Unsupported(f),
        Some(_) | None => ImageError::Unrecognized,
    }
}

fn map_image_error(e: image::ImageError) -> ImageError {
    match e {
        image::ImageError::Limits(l) => ImageError::DecoderLimit(l.to_string()),
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::Corrupt("the file is truncated".to_owned())
        }
        image::ImageError::Decoding(d) => ImageError::Corrupt(d.to_string()),
        image::ImageError::IoError(io) => ImageError::Corrupt(io.to_string()),
        image::ImageError::Unsupported(u) => ImageError::Corrupt(u.to_string()),
        image::ImageError::Parameter(p) => ImageError::Corrupt(p.to_string()),
        image::ImageError::Encoding(en) => ImageError::Encode(en.to_string()),
    }
}

/// Reads an image's header: format, dimensions (oriented), colour model, alpha, orientation.
///
/// Allocates no pixel buffers; safe on any input.
pub fn probe(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let format = sniff(bytes)
        .and_then(SniffedFormat::supported)
        .ok_or_else(|| not_readable(bytes))?;
    let mut info = match format {
        ImageFormat::Png => probe_png(bytes)?,
        ImageFormat::Jpeg => {
            let mut d = JpegDecoder::new(Cursor::new(bytes)).map_err(map_image_error)?;
            let orientation = d.orientation().map_err(map_image_error)?;
            let (width, height) = d.dimensions();
            let color = match d.color_type() {
                ColorType::L8 | ColorType::L16 => ColorModel::L,
                ColorType::La8 | ColorType::La16 => ColorModel::La,
                ColorType::Rgba8 | ColorType::Rgba16 | ColorType::Rgba32F => ColorModel::Cmyk,
                ColorType::Rgb8 | ColorType::Rgb16 | ColorType::Rgb32F | _ => ColorModel::Rgb,
            };
            ImageInfo {
                format,
                width,
                height,
                has_alpha: false,
                color,
                bit_depth: 8,
                orientation: Orientation::from_image(orientation),
                animated: false,
            }
        }
        ImageFormat::Webp => {
            let mut d = WebPDecoder::new(Cursor::new(bytes)).map_err(map_image_error)?;
            let animated = d.has_animation();
            let orientation = d.orientation().map_err(map_image_error)?;
            let (width, height) = d.dimensions();
            let has_alpha = d.color_type().has_alpha();
            ImageInfo {
                format,
                width,
                height,
                has_alpha,
                color: if has_alpha {
                    ColorModel::Rgba
                } else {
                    ColorModel::Rgb
                },
                bit_depth: 8,
                orientation: Orientation::from_image(orientation),
                animated,
            }
        }
    };
    if info.width == 0 || info.height == 0 {
        return Err(ImageError::Corrupt(
            "the image has zero width or height".to_owned(),
        ));
    }
    if info.orientation.swaps_dimensions() {
        std::mem::swap(&mut info.width, &mut info.height);
    }
    Ok(info)
}

fn probe_png(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: PNG_METADATA_LIMIT,
        },
    );
    decoder.set_ignore_text_chunk(true);
    let corrupt = |e: png::DecodingError| ImageError::Corrupt(e.to_string());
    let header = decoder.read_header_info().map_err(corrupt)?;
    let (width, height, color_type, bit_depth) = (
        header.width,
        header.height,
        header.color_type,
        header.bit_depth as u8,
    );
    let mut info = ImageInfo {
        format: ImageFormat::Png,
        width,
        height,
        has_alpha: matches!(
            color_type,
            png::ColorType::GrayscaleAlpha | png::ColorType::Rgba
        ),
        color: match color_type {
            png::ColorType::Grayscale => ColorModel::L,
            png::ColorType::GrayscaleAlpha => ColorModel::La,
            png::ColorType::Rgb => ColorModel::Rgb,
            png::ColorType::Rgba => ColorModel::Rgba,
            png::ColorType::Indexed => ColorModel::Palette { trns: false },
        },
        bit_depth,
        orientation: Orientation::Normal,
        animated: false,
    };
    // The chunks before IDAT (tRNS, acTL, eXIf) need the reader, which sizes a row buffer from
    // the width; an absurd width exceeds the limit, and the header alone is then enough to refuse
    // the image by its pixel count.
    let reader = match decoder.read_info() {
        Ok(reader) => reader,
        Err(png::DecodingError::LimitsExceeded) => return Ok(info),
        Err(e) => return Err(corrupt(e)),
    };
    let full = reader.info();
    let trns = full.trns.is_some();
    if trns {
        info.has_alpha = true;
        if let ColorModel::Palette { .. } = info.color {
            info.color = ColorModel::Palette { trns };
        }
    }
    info.animated = full.animation_control.is_some();
    info.orientation = full
        .exif_metadata
        .as_deref()
        .and_then(ImageOrientation::from_exif_chunk)
        .map_or(Orientation::Normal, Orientation::from_image);
    Ok(info)
}

/// Decodes to RGBA8 with EXIF orientation applied, refusing oversized images before allocating.
///
/// 16-bit samples are scaled to 8-bit, palettes (with tRNS) and greyscale(+alpha) expand to RGBA,
/// an APNG yields its default image, an animated WebP its first frame. Damaged files (bad CRC,
/// truncated data) are `Corrupt`.
pub fn decode_rgba(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedImage, ImageError> {
    let info = probe(bytes)?;
    if info.pixels() > limits.max_pixels {
        return Err(ImageError::TooLarge {
            width: info.width,
            height: info.height,
            limit: limits.max_pixels,
        });
    }
    let rgba_bytes = info.pixels().saturating_mul(4);
    if rgba_bytes > limits.max_alloc {
        return Err(ImageError::MemoryLimit {
            needed: rgba_bytes,
            limit: limits.max_alloc,
        });
    }
    let mut image_limits = Limits::default();
    image_limits.max_alloc = Some(limits.max_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), info.format.to_image());
    reader.limits(image_limits);
    let decoder = reader.into_decoder().map_err(map_image_error)?;
    let needed = decoder.total_bytes();
    if needed > limits.max_alloc {
        return Err(ImageError::MemoryLimit {
            needed,
            limit: limits.max_alloc,
        });
    }
    let mut img = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    img.apply_orientation(info.orientation.to_image());
    let rgba = img.into_rgba8();
    let (width, height) = rgba.dimensions();
    Ok(DecodedImage {
        width,
        height,
        rgba: rgba.into_raw(),
    })
}

/// OpenAI's mask rule as a bitmap: 255 where alpha is 0 (edit), 0 elsewhere (keep).
pub fn edit_mask_from_alpha(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .map(|px| if px[3] == 0 { 255 } else { 0 })
        .collect()
}

fn check_buffer(rgba: &[u8], width: u32, height: u32) -> Result<(), ImageError> {
    let expected = u64::from(width) * u64::from(height) * 4;
    if width == 0 || height == 0 || rgba.len() as u64 != expected {
        return Err(ImageError::InvalidBuffer(format!(
            "{} bytes for {width}x{height} RGBA (expected {expected})",
            rgba.len()
        )));
    }
    Ok(())
}

/// Encodes RGBA8 pixels.
///
/// - PNG: fast deflate with adaptive filters; written as RGB when every pixel is opaque.
/// - JPEG: quality = `compression` (clamped to 1..=100, default [`DEFAULT_JPEG_QUALITY`]);
///   transparent pixels are composited over white, since JPEG has no alpha.
/// - WebP: lossless (the only WebP encoder the `image` crate has); `compression` is ignored.
pub fn encode(
    rgba: &[u8],
    width: u32,
    height: u32,
    format: OutputFormat,
    compression: Option<u8>,
) -> Result<Vec<u8>, ImageError> {
    check_buffer(rgba, width, height)?;
    let mut out = Vec::new();
    let enc_err = |e: image::ImageError| ImageError::Encode(e.to_string());
    match format {
        OutputFormat::Png => {
            let encoder =
                PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive);
            if rgba.chunks_exact(4).all(|px| px[3] == 255) {
                let rgb = strip_alpha(rgba);
                encoder
                    .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
                    .map_err(enc_err)?;
            } else {
                encoder
                    .write_image(rgba, width, height, image::ExtendedColorType::Rgba8)
                    .map_err(enc_err)?;
            }
        }
        OutputFormat::Jpeg => {
            let quality = compression.unwrap_or(DEFAULT_JPEG_QUALITY).clamp(1, 100);
            let rgb = composite_over_white(rgba);
            JpegEncoder::new_with_quality(&mut out, quality)
                .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
                .map_err(enc_err)?;
        }
        OutputFormat::Webp => {
            WebPEncoder::new_lossless(&mut out)
                .write_image(rgba, width, height, image::ExtendedColorType::Rgba8)
                .map_err(enc_err)?;
        }
    }
    Ok(out)
}

fn strip_alpha(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .flat_map(|px| [px[0], px[1], px[2]])
        .collect()
}

fn composite_over_white(rgba: &[u8]) -> Vec<u8> {
    let blend = |c: u8, a: u8| {
        let (c, a) = (u32::from(c), u32::from(a));
        // Rounded (c·a + 255·(255−a)) / 255; always ≤ 255.
        u8::try_from((c * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
    };
    rgba.chunks_exact(4)
        .flat_map(|px| {
            [
                blend(px[0], px[3]),
                blend(px[1], px[3]),
                blend(px[2], px[3]),
            ]
        })
        .collect()
}

/// Resizes RGBA8 pixels with a Catmull-Rom filter, in premultiplied alpha so transparent pixels'
/// hidden colours do not bleed into the edges.
pub fn resize_rgba(
    rgba: &[u8],
    width: u32,
    height: u32,
    new_width: u32,
    new_height: u32,
) -> Result<Vec<u8>, ImageError> {
    check_buffer(rgba, width, height)?;
    if new_width == 0 || new_height == 0 {
        return Err(ImageError::InvalidBuffer(format!(
            "cannot resize to {new_width}x{new_height}"
        )));
    }
    if (width, height) == (new_width, new_height) {
        return Ok(rgba.to_vec());
    }
    let mut pre = rgba.to_vec();
    for px in pre.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        for c in &mut px[..3] {
            *c = u8::try_from((u32::from(*c) * a + 127) / 255).unwrap_or(u8::MAX);
        }
    }
    let src = image::RgbaImage::from_raw(width, height, pre)
        .ok_or_else(|| ImageError::InvalidBuffer("buffer does not match dimensions".to_owned()))?;
    let resized = image::imageops::resize(
        &src,
        new_width,
        new_height,
        image::imageops::FilterType::CatmullRom,
    );
    let mut out = resized.into_raw();
    for px in out.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        if a == 0 {
            px[..3].fill(0);
            continue;
        }
        for c in &mut px[..3] {
            *c = u8::try_from(((u32::from(*c) * 255 + a / 2) / a).min(255)).unwrap_or(u8::MAX);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
