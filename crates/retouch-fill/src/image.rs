//! Borrowed and owned pixel buffers at the API boundary, and their validation.

use crate::FillError;

/// A borrowed RGBA8 image: row-major, tightly packed, `pixels.len() == width * height * 4`.
#[derive(Clone, Copy, Debug)]
pub struct ImageRef<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` RGBA quadruplets, top row first.
    pub pixels: &'a [u8],
}

/// A borrowed edit mask: one byte per pixel, row-major, `data.len() == width * height`.
///
/// A nonzero byte marks a pixel to be filled (edited); zero marks a known pixel that is kept
/// bit-exact and used as source material.
#[derive(Clone, Copy, Debug)]
pub struct MaskRef<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height` bytes, top row first; nonzero = fill this pixel.
    pub data: &'a [u8],
}

/// An owned RGBA8 image, row-major and tightly packed, as returned by a fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbaImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub pixels: Vec<u8>,
}

impl RgbaImage {
    /// Borrows this image.
    #[must_use]
    pub fn as_ref(&self) -> ImageRef<'_> {
        ImageRef {
            width: self.width,
            height: self.height,
            pixels: &self.pixels,
        }
    }
}

/// Checks dimensions and buffer lengths, in the order a caller would want to hear about them.
pub(crate) fn validate(
    image: &ImageRef<'_>,
    mask: &MaskRef<'_>,
    max_pixels: u64,
) -> Result<(), FillError> {
    if image.width == 0 || image.height == 0 {
        return Err(FillError::ZeroSize);
    }
    if image.width != mask.width || image.height != mask.height {
        return Err(FillError::SizeMismatch {
            image_width: image.width,
            image_height: image.height,
            mask_width: mask.width,
            mask_height: mask.height,
        });
    }
    let pixels = u64::from(image.width) * u64::from(image.height);
    if pixels > max_pixels {
        return Err(FillError::TooLarge {
            pixels,
            limit: max_pixels,
        });
    }
    let expected = pixels * 4;
    if image.pixels.len() as u64 != expected {
        return Err(FillError::InvalidBuffer {
            buffer: "image",
            expected,
            actual: image.pixels.len() as u64,
        });
    }
    if mask.data.len() as u64 != pixels {
        return Err(FillError::InvalidBuffer {
            buffer: "mask",
            expected: pixels,
            actual: mask.data.len() as u64,
        });
    }
    // Every later index is computed in usize; refuse sizes that would not fit (32-bit hosts).
    if usize::try_from(expected).is_err() || u32::try_from(pixels).is_err() {
        return Err(FillError::TooLarge {
            pixels,
            limit: u64::from(u32::MAX).min(max_pixels),
        });
    }
    Ok(())
}
