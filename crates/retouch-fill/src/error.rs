//! The one error type of the engine: every way a fill can refuse or stop.

/// Why a fill did not produce an image.
///
/// Every variant is a property of the input or of the caller's decision (cancellation);
/// the engine has no internal failure modes.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FillError {
    /// The mask marks every pixel for filling, so there is no known pixel to copy from.
    #[error("nothing to fill from: every pixel of the image is marked for editing")]
    NothingToFillFrom,
    /// The image has more pixels than [`FillOptions::max_pixels`](crate::FillOptions::max_pixels) allows.
    #[error("image has {pixels} pixels, more than the limit of {limit}")]
    TooLarge {
        /// `width * height` of the input.
        pixels: u64,
        /// The configured limit.
        limit: u64,
    },
    /// The mask's dimensions differ from the image's.
    #[error("mask is {mask_width}x{mask_height} but the image is {image_width}x{image_height}")]
    SizeMismatch {
        /// Image width in pixels.
        image_width: u32,
        /// Image height in pixels.
        image_height: u32,
        /// Mask width in pixels.
        mask_width: u32,
        /// Mask height in pixels.
        mask_height: u32,
    },
    /// A buffer's length does not match its declared dimensions.
    #[error("{buffer} buffer has {actual} bytes, expected {expected}")]
    InvalidBuffer {
        /// Which buffer: `"image"` or `"mask"`.
        buffer: &'static str,
        /// `width * height * channels`.
        expected: u64,
        /// The slice's length.
        actual: u64,
    },
    /// The image has zero width or zero height.
    #[error("image has zero width or height")]
    ZeroSize,
    /// The progress callback returned [`ControlFlow::Break`](std::ops::ControlFlow::Break).
    #[error("fill cancelled")]
    Cancelled,
}
