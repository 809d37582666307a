//! `gemini`: `POST {base}/v1beta/models/{model}:generateContent` with `x-goog-api-key`
//! (base default `https://generativelanguage.googleapis.com`, model default
//! `gemini-2.5-flash-image`).
//!
//! - The prompt goes first, then every input image inline, bytes unchanged.
//! - Gemini has no mask parameter. An explicit mask is sent as one more image, rendered white
//!   = edit, after a text part that says what it is (the approach new-api uses); without a mask
//!   the image goes as is (its transparent pixels are visible to the model).
//! - `n`: one image per call, fanned out in parallel (bounded).
//! - `size` → `imageConfig.aspectRatio`, the nearest supported ratio; Gemini picks the pixels.
//! - An answer with text and no image is a 502 quoting the text; a safety block
//!   (`promptFeedback.blockReason`, a safety `finishReason`) is a 400 `content_policy_violation`.

mod wire;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use reqwest::Method;
use retouch_api::ApiError;
use serde_json::{Value, json};

use super::error::{content_policy, malformed};
use super::{Call, ProviderImage, ProviderImages, ProviderOutput, edit_bitmap, sniff_mime};

/// The model used when neither the target nor the request names a Gemini model.
pub const DEFAULT_MODEL: &str = "gemini-2.5-flash-image";

pub(crate) async fn edit(call: &Call<'_>) -> Result<ProviderOutput, ApiError> {
    let model = match (call.target.model.as_deref(), call.request.model.as_deref()) {
        (Some(model), _) => model,
        (None, Some(model)) if model.starts_with("gemini") => model,
        (None, Some(_) | None) => DEFAULT_MODEL,
    };
    if model.is_empty() || model.contains(['/', '?', '#']) {
        return Err(ApiError::invalid_request(
            format!("Invalid Gemini model '{model}'."),
            Some("model"),
        ));
    }
    let url = call.endpoint(&format!("v1beta/models/{model}:generateContent"))?;

    let mut parts = vec![json!({ "text": call.request.prompt })];
    for image in &call.request.images {
        let mime = image
            .content_type
            .clone()
            .filter(|m| m.starts_with("image/"))
            .or_else(|| sniff_mime(&image.data))
            .unwrap_or_else(|| "image/png".to_owned());
        parts.push(wire::inline_image(&mime, STANDARD.encode(&image.data)));
    }
    if call.request.mask.is_some() {
        let (bitmap, _) = edit_bitmap(call.request).await?;
        parts.push(json!({ "text": wire::MASK_INSTRUCTION }));
        parts.push(wire::inline_image(
            "image/png",
            STANDARD.encode(bitmap.to_white_is_edit_png()?),
        ));
    }
    let ratio = call.edit.size.map(|(w, h)| wire::aspect_ratio(w, h));
    let body = wire::body(parts, ratio, &call.target.override_params);

    let results = tokio::time::timeout(
        call.target.timeout,
        call.fan_out(|_| {
            let url = url.clone();
            let body = &body;
            async move { one(call, &url, body).await }
        }),
    )
    .await
    .map_err(|_| ApiError::gateway_timeout(call.slug()))??;
    let mut images = Vec::with_capacity(results.len());
    let mut usage = Vec::new();
    for (image, call_usage) in results {
        images.push(image);
        usage.extend(call_usage);
    }
    let usage = (!usage.is_empty()).then_some(Value::Array(usage));
    Ok(ProviderOutput::Images(ProviderImages {
        images,
        usage,
        ..ProviderImages::default()
    }))
}

async fn one(
    call: &Call<'_>,
    url: &url::Url,
    body: &Value,
) -> Result<(ProviderImage, Option<Value>), ApiError> {
    let provider = call.slug();
    let mut request = call.client.request(provider, Method::POST, url)?.json(body);
    request = call.target.apply_forward_headers(request);
    if let Some(key) = &call.target.api_key {
        request = request.header("x-goog-api-key", key.expose());
    }
    let parsed: wire::GenerateResponse = call
        .exchange_json(request, "generateContent response")
        .await?;
    if let Some(reason) = parsed
        .prompt_feedback
        .as_ref()
        .and_then(|f| f.block_reason.as_deref())
    {
        return Err(content_policy(call, &format!("blockReason {reason}")));
    }
    let mut texts = Vec::new();
    for candidate in &parsed.candidates {
        for part in candidate.content.iter().flat_map(|c| c.parts.iter()) {
            if let Some(inline) = &part.inline_data {
                let data = STANDARD
                    .decode(inline.data.as_bytes())
                    .map_err(|e| malformed(call, format!("inlineData is not base64: {e}")))?;
                let mime = sniff_mime(&data).or_else(|| inline.mime_type.clone());
                let image = ProviderImage::Bytes {
                    data: Bytes::from(data),
                    mime,
                };
                return Ok((image, parsed.usage_metadata.clone()));
            }
            if let Some(text) = &part.text {
                texts.push(text.clone());
            }
        }
        if let Some(reason) = candidate.finish_reason.as_deref()
            && wire::BLOCKED_FINISH_REASONS.contains(&reason)
        {
            return Err(content_policy(call, &format!("finishReason {reason}")));
        }
    }
    let said = texts.join(" ");
    let said: String = said.chars().take(300).collect();
    let mut error = malformed(call, format!("text-only answer: {said}"));
    error.message = if said.is_empty() {
        format!("The upstream provider '{provider}' answered without an image.")
    } else {
        format!("The upstream provider '{provider}' answered with text and no image: \"{said}\"")
    };
    Err(error.with_code("no_image_returned"))
}
