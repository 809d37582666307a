//! Mask conversion: OpenAI's convention in, each provider's convention out, in one place.
//!
//! OpenAI marks the area to edit with fully transparent pixels (alpha = 0) of the `mask`, or, when
//! no mask is sent, of the first image itself. [`EditBitmap`] is that rule applied once
//! (via [`retouch_api::edit_mask_from_alpha`], the same rule the local engine uses); each adapter
//! then renders the form its provider reads:
//!
//! | provider                  | renderer                           |
//! |---------------------------|------------------------------------|
//! | OpenAI, Azure, compatible | none: the caller's bytes are sent unchanged |
//! | Stability, A1111, IOPaint, Gemini (as a hint image) | [`EditBitmap::to_white_is_edit_png`] |
//! | anything that wants OpenAI's form rebuilt | [`EditBitmap::to_alpha_png`] |

use std::io::Cursor;

use image::{GrayImage, ImageFormat, RgbaImage};
use retouch_api::{
    ApiError, DecodeLimits, EditRequest, ImageError, InputFile, decode_rgba, edit_mask_from_alpha,
};

/// Which pixels to edit: one byte per pixel, 255 = edit, 0 = keep, row-major.
#[derive(Clone, PartialEq, Eq)]
pub struct EditBitmap {
    width: u32,
    height: u32,
    edit: Vec<u8>,
}

impl std::fmt::Debug for EditBitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EditBitmap")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("edit_pixels", &self.edit_pixels())
            .finish()
    }
}

/// Where the edit area came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskSource {
    /// The request's `mask` file.
    Mask,
    /// The first image's own transparent pixels.
    ImageAlpha,
}

impl EditBitmap {
    /// Applies OpenAI's rule (alpha = 0 ⇒ edit) to RGBA8 pixels.
    pub fn from_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<Self, ApiError> {
        let expected = u64::from(width) * u64::from(height) * 4;
        if rgba.len() as u64 != expected {
            return Err(ApiError::internal(format!(
                "mask buffer has {} bytes for {width}x{height}",
                rgba.len()
            )));
        }
        Ok(Self {
            width,
            height,
            edit: edit_mask_from_alpha(rgba),
        })
    }

    /// The edit area of a request: from its `mask` (which must match the first image's size)
    /// or, without one, from the first image's transparent pixels. Decodes images, so call it
    /// off the async runtime.
    pub fn from_request(
        request: &EditRequest,
        limits: &DecodeLimits,
    ) -> Result<(Self, MaskSource), ApiError> {
        let first = request
            .images
            .first()
            .ok_or_else(|| ApiError::missing_param("image"))?;
        Self::from_files(first, request.mask.as_ref(), limits)
    }

    /// [`EditBitmap::from_request`] for the first image and the optional mask alone.
    pub fn from_files(
        first: &InputFile,
        mask: Option<&InputFile>,
        limits: &DecodeLimits,
    ) -> Result<(Self, MaskSource), ApiError> {
        match mask {
            Some(mask) => {
                let decoded =
                    decode_rgba(&mask.data, limits).map_err(|e| image_error(&e, "mask"))?;
                let image_size = match &first.info {
                    Some(info) => (info.width, info.height),
                    None => {
                        let image = decode_rgba(&first.data, limits)
                            .map_err(|e| image_error(&e, "image"))?;
                        (image.width, image.height)
                    }
                };
                if (decoded.width, decoded.height) != image_size {
                    return Err(ApiError::invalid_request(
                        format!(
                            "Invalid mask image - mask size {}x{} must match image size {}x{}.",
                            decoded.width, decoded.height, image_size.0, image_size.1
                        ),
                        Some("mask"),
                    ));
                }
                Ok((
                    Self::from_rgba(decoded.width, decoded.height, &decoded.rgba)?,
                    MaskSource::Mask,
                ))
            }
            None => {
                let image =
                    decode_rgba(&first.data, limits).map_err(|e| image_error(&e, "image"))?;
                Ok((
                    Self::from_rgba(image.width, image.height, &image.rgba)?,
                    MaskSource::ImageAlpha,
                ))
            }
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// How many pixels are marked for editing.
    pub fn edit_pixels(&self) -> usize {
        self.edit.iter().filter(|&&v| v != 0).count()
    }

    /// Whether nothing is marked for editing.
    pub fn is_empty(&self) -> bool {
        self.edit.iter().all(|&v| v == 0)
    }

    /// Whether the pixel at (x, y) is marked for editing.
    pub fn is_edit(&self, x: u32, y: u32) -> bool {
        let index = y as usize * self.width as usize + x as usize;
        self.edit.get(index).is_some_and(|&v| v != 0)
    }

    /// Grayscale PNG, white (255) = edit, black (0) = keep: Stability, AUTOMATIC1111 (with
    /// `inpainting_mask_invert: 0`; an L image, so its missing alpha cannot be misread),
    /// IOPaint, LocalAI, FLUX Fill. Equal to `255 − alpha` for OpenAI's binary masks.
    pub fn to_white_is_edit_png(&self) -> Result<Vec<u8>, ApiError> {
        let image = GrayImage::from_raw(self.width, self.height, self.edit.clone())
            .ok_or_else(|| ApiError::internal("edit bitmap has the wrong length"))?;
        let mut out = Cursor::new(Vec::new());
        image
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|e| ApiError::internal(format!("encoding a mask: {e}")))?;
        Ok(out.into_inner())
    }

    /// RGBA PNG in OpenAI's convention: black everywhere, alpha 0 where to edit, 255 elsewhere
    /// (also ComfyUI's `LoadImage` convention).
    pub fn to_alpha_png(&self) -> Result<Vec<u8>, ApiError> {
        let pixels: Vec<u8> = self.edit.iter().flat_map(|&v| [0, 0, 0, 255 - v]).collect();
        let image = RgbaImage::from_raw(self.width, self.height, pixels)
            .ok_or_else(|| ApiError::internal("edit bitmap has the wrong length"))?;
        let mut out = Cursor::new(Vec::new());
        image
            .write_to(&mut out, ImageFormat::Png)
            .map_err(|e| ApiError::internal(format!("encoding a mask: {e}")))?;
        Ok(out.into_inner())
    }
}

/// A decode failure of a request file as OpenAI words it.
pub(crate) fn image_error(error: &ImageError, param: &str) -> ApiError {
    let subject = if param == "mask" {
        "Invalid mask image"
    } else {
        "Invalid input image"
    };
    ApiError::invalid_image(format!("{subject} - {error}."), Some(param))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitmap() -> EditBitmap {
        // 3×2: the middle column is transparent (edit), the rest opaque; (2,1) half transparent.
        let mut rgba = Vec::new();
        for y in 0..2 {
            for x in 0..3 {
                let alpha = match (x, y) {
                    (1, _) => 0,
                    (2, 1) => 128,
                    _ => 255,
                };
                rgba.extend_from_slice(&[10, 20, 30, alpha]);
            }
        }
        EditBitmap::from_rgba(3, 2, &rgba).unwrap()
    }

    #[test]
    fn only_fully_transparent_pixels_are_edited() {
        let b = bitmap();
        assert_eq!(b.edit_pixels(), 2);
        assert!(b.is_edit(1, 0) && b.is_edit(1, 1));
        assert!(!b.is_edit(0, 0) && !b.is_edit(2, 1));
        assert!(!b.is_empty());
    }

    #[test]
    fn white_is_edit_png_is_grayscale_with_white_where_alpha_was_zero() {
        let png = bitmap().to_white_is_edit_png().unwrap();
        let decoded = image::load_from_memory(&png).unwrap();
        assert_eq!(decoded.color(), image::ColorType::L8);
        let gray = decoded.to_luma8();
        assert_eq!(gray.as_raw(), &vec![0, 255, 0, 0, 255, 0]);
    }

    #[test]
    fn alpha_png_round_trips_to_the_same_bitmap() {
        let b = bitmap();
        let png = b.to_alpha_png().unwrap();
        let rgba = image::load_from_memory(&png).unwrap().to_rgba8();
        let again = EditBitmap::from_rgba(3, 2, rgba.as_raw()).unwrap();
        assert_eq!(again, b);
    }

    #[test]
    fn wrong_buffer_length_is_an_error() {
        assert!(EditBitmap::from_rgba(2, 2, &[0; 15]).is_err());
    }
}
