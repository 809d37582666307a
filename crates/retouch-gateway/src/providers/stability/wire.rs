//! Stability AI v2beta `stable-image/edit/*` wire: the multipart form and the JSON answer
//! (`accept: application/json` ⇒ `{image, finish_reason, seed}`).

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use retouch_api::{ApiError, InputFile};
use serde::Deserialize;

use crate::providers::sniff_mime;

/// Caller fields forwarded to Stability when present (its optional edit parameters).
pub(crate) const PASSTHROUGH_FIELDS: [&str; 4] =
    ["negative_prompt", "grow_mask", "style_preset", "seed"];

/// What goes into one call's form.
#[derive(Debug)]
pub(crate) struct EditForm<'a> {
    pub(crate) image: &'a InputFile,
    /// White-is-edit grayscale PNG; `None` lets Stability use the image's own alpha.
    pub(crate) mask: Option<Bytes>,
    /// `None` for `erase`.
    pub(crate) prompt: Option<&'a str>,
    pub(crate) output_format: &'a str,
    pub(crate) fields: Vec<(String, String)>,
}

impl EditForm<'_> {
    pub(crate) fn into_form(self) -> Result<Form, ApiError> {
        let mime = self
            .image
            .content_type
            .clone()
            .or_else(|| sniff_mime(&self.image.data))
            .unwrap_or_else(|| "image/png".to_owned());
        let filename = self
            .image
            .filename
            .clone()
            .unwrap_or_else(|| "image".to_owned());
        let length = self.image.data.len() as u64;
        let image = Part::stream_with_length(reqwest::Body::from(self.image.data.clone()), length)
            .file_name(filename)
            .mime_str(&mime)
            .map_err(|_| {
                ApiError::invalid_request(format!("Invalid content type '{mime}'."), Some("image"))
            })?;
        let mut form = Form::new().part("image", image);
        if let Some(mask) = self.mask {
            let length = mask.len() as u64;
            let part = Part::stream_with_length(reqwest::Body::from(mask), length)
                .file_name("mask.png")
                .mime_str("image/png")
                .map_err(|e| ApiError::internal(format!("mask part: {e}")))?;
            form = form.part("mask", part);
        }
        if let Some(prompt) = self.prompt {
            form = form.text("prompt", prompt.to_owned());
        }
        form = form.text("output_format", self.output_format.to_owned());
        for (name, value) in self.fields {
            form = form.text(name, value);
        }
        Ok(form)
    }
}

/// The JSON answer.
#[derive(Debug, Deserialize)]
pub(crate) struct EditResponse {
    pub(crate) image: String,
    pub(crate) finish_reason: String,
}
