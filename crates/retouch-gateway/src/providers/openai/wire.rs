//! OpenAI's `images/edits` wire: the multipart form we send (the caller's file bytes, filenames
//! and part types unchanged) and the `ImagesResponse` we read back.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use retouch_api::{ApiError, BodyEncoding, EditRequest, InputFile};
use serde::Deserialize;
use serde_json::Value;

use crate::providers::{ProviderImage, ProviderImages, field_text, sniff_mime};

/// The form for one call: every file part with its original bytes and headers, every known
/// field as the client sent it, unknown fields passed through, then `override_params`.
pub(crate) fn form(
    request: &EditRequest,
    model: Option<&str>,
    overrides: &serde_json::Map<String, Value>,
) -> Result<Form, ApiError> {
    let mut form = Form::new();
    let several = request.images.len() > 1;
    for (index, image) in request.images.iter().enumerate() {
        let name = if several { "image[]" } else { "image" };
        form = form.part(name, file_part(image, &format!("image_{index}"))?);
    }
    if let Some(mask) = &request.mask {
        form = form.part("mask", file_part(mask, "mask")?);
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    fields.push(("prompt".to_owned(), request.prompt.clone()));
    let mut push = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            fields.push((name.to_owned(), value));
        }
    };
    push("model", model.map(str::to_owned));
    push("n", request.n.map(|n| n.to_string()));
    push("size", request.size.map(|s| s.to_string()));
    push(
        "response_format",
        request.response_format.map(|v| v.as_str().to_owned()),
    );
    push("quality", request.quality.map(|v| v.as_str().to_owned()));
    push(
        "background",
        request.background.map(|v| v.as_str().to_owned()),
    );
    push(
        "output_format",
        request.output_format.map(|v| v.as_str().to_owned()),
    );
    push(
        "output_compression",
        request.output_compression.map(|v| v.to_string()),
    );
    push(
        "input_fidelity",
        request.input_fidelity.map(|v| v.as_str().to_owned()),
    );
    push("stream", request.stream.map(|v| v.to_string()));
    push(
        "partial_images",
        request.partial_images.map(|v| v.to_string()),
    );
    push(
        "moderation",
        request.moderation.map(|v| v.as_str().to_owned()),
    );
    push("user", request.user.clone());
    for (name, value) in &request.extra {
        fields.push((name.clone(), extra_text(request.encoding, value)));
    }
    for (name, value) in overrides {
        if matches!(name.as_str(), "image" | "image[]" | "mask") {
            continue;
        }
        fields.retain(|(existing, _)| existing != name);
        if let Some(text) = field_text(value) {
            fields.push((name.clone(), text));
        }
    }
    for (name, value) in fields {
        form = form.text(name, value);
    }
    Ok(form)
}

/// An unknown field's text: multipart values as sent; JSON values unquoted when they are strings.
fn extra_text(encoding: BodyEncoding, value: &str) -> String {
    match encoding {
        BodyEncoding::Multipart => value.to_owned(),
        BodyEncoding::Json => match serde_json::from_str::<Value>(value) {
            Ok(Value::String(s)) => s,
            Ok(_) | Err(_) => value.to_owned(),
        },
    }
}

/// A file part sharing the caller's bytes (no copy, no re-encode).
fn file_part(file: &InputFile, fallback_stem: &str) -> Result<Part, ApiError> {
    let mime = file
        .content_type
        .clone()
        .or_else(|| sniff_mime(&file.data))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let filename = file.filename.clone().unwrap_or_else(|| {
        let extension = mime.strip_prefix("image/").unwrap_or("bin");
        format!("{fallback_stem}.{extension}")
    });
    let data: Bytes = file.data.clone();
    let length = data.len() as u64;
    Part::stream_with_length(reqwest::Body::from(data), length)
        .file_name(filename)
        .mime_str(&mime)
        .map_err(|_| {
            ApiError::invalid_request(format!("Invalid content type '{mime}'."), Some(&file.field))
        })
}

/// `ImagesResponse`, as far as we read it; unknown keys are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct ImagesResponse {
    created: Option<u64>,
    data: Vec<ImageData>,
    usage: Option<Value>,
    size: Option<String>,
    quality: Option<String>,
    background: Option<String>,
    output_format: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ImageData {
    b64_json: Option<String>,
    url: Option<String>,
}

impl ImagesResponse {
    /// The images, decoded; `Err` names what was wrong (for the 502's detail).
    pub(crate) fn into_images(self) -> Result<ProviderImages, String> {
        let mime = self.output_format.as_deref().map(|f| format!("image/{f}"));
        let mut images = Vec::with_capacity(self.data.len());
        for (index, item) in self.data.into_iter().enumerate() {
            let image = match (item.b64_json, item.url) {
                (Some(b64), _) => {
                    let data = STANDARD
                        .decode(b64.as_bytes())
                        .map_err(|e| format!("data[{index}].b64_json is not base64: {e}"))?;
                    let mime = sniff_mime(&data).or_else(|| mime.clone());
                    ProviderImage::Bytes {
                        data: Bytes::from(data),
                        mime,
                    }
                }
                (None, Some(url)) => ProviderImage::Url(url),
                (None, None) => return Err(format!("data[{index}] has neither b64_json nor url")),
            };
            images.push(image);
        }
        if images.is_empty() {
            return Err("the response has no images".to_owned());
        }
        Ok(ProviderImages {
            images,
            usage: self.usage,
            size: self.size,
            quality: self.quality,
            background: self.background,
            output_format: self.output_format,
            created: self.created,
            upstream_request_id: None,
        })
    }
}
