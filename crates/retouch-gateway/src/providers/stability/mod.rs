//! `stability-ai`: v2beta `stable-image/edit/inpaint`, or `edit/erase` when the prompt is empty
//! or whitespace. Multipart, `accept: application/json`, Bearer auth.
//!
//! - Mask: an explicit OpenAI mask is rendered as a grayscale white-is-edit PNG
//!   (`L = 255 − alpha`); without one, the image goes alone and Stability inpaints its transparent
//!   pixels, which is OpenAI's rule too.
//! - `n`: one image per call, fanned out in parallel (bounded).
//! - `output_format` is forwarded; `size` is not (Stability's edit endpoints have none).
//! - `finish_reason: CONTENT_FILTERED` becomes OpenAI's 400 `content_policy_violation`.

mod wire;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use reqwest::{Method, header};
use retouch_api::ApiError;

use super::error::{content_policy, malformed};
use super::{
    Call, ProviderImage, ProviderImages, ProviderOutput, edit_bitmap, field_text, seed_base,
    sniff_mime,
};

pub(crate) async fn edit(call: &Call<'_>) -> Result<ProviderOutput, ApiError> {
    let prompt = call.request.prompt.trim();
    let erase = prompt.is_empty();
    let url = call.endpoint(if erase {
        "v2beta/stable-image/edit/erase"
    } else {
        "v2beta/stable-image/edit/inpaint"
    })?;
    let mask = match &call.request.mask {
        Some(_) => Some(Bytes::from(
            edit_bitmap(call.request).await?.0.to_white_is_edit_png()?,
        )),
        None => None,
    };
    let seed = seed_base(call.request);
    let attempt = tokio::time::timeout(
        call.target.timeout,
        call.fan_out(|index| {
            let url = url.clone();
            let mask = mask.clone();
            async move {
                let mut fields: Vec<(String, String)> = call
                    .request
                    .extra
                    .iter()
                    .filter(|(name, _)| {
                        wire::PASSTHROUGH_FIELDS.contains(&name.as_str()) && name != "seed"
                    })
                    .cloned()
                    .collect();
                if let Some(seed) = seed {
                    // Distinct seeds, so n > 1 gives n different images, reproducibly.
                    fields.push(("seed".to_owned(), (seed + u64::from(index)).to_string()));
                }
                for (name, value) in &call.target.override_params {
                    fields.retain(|(existing, _)| existing != name);
                    if let Some(text) = field_text(value) {
                        fields.push((name.clone(), text));
                    }
                }
                let form = wire::EditForm {
                    image: call
                        .request
                        .images
                        .first()
                        .ok_or_else(|| ApiError::missing_param("image"))?,
                    mask,
                    prompt: (!erase).then_some(call.request.prompt.as_str()),
                    output_format: call.edit.output_format.as_str(),
                    fields,
                };
                one(call, &url, form).await
            }
        }),
    )
    .await
    .map_err(|_| ApiError::gateway_timeout(call.slug()))??;
    Ok(ProviderOutput::Images(ProviderImages {
        images: attempt,
        ..ProviderImages::default()
    }))
}

async fn one(
    call: &Call<'_>,
    url: &url::Url,
    form: wire::EditForm<'_>,
) -> Result<ProviderImage, ApiError> {
    let provider = call.slug();
    let mut request = call
        .client
        .request(provider, Method::POST, url)?
        .header(header::ACCEPT, "application/json")
        .multipart(form.into_form()?);
    request = call.target.apply_forward_headers(request);
    if let Some(key) = &call.target.api_key {
        request = request.bearer_auth(key.expose());
    }
    let parsed: wire::EditResponse = call.exchange_json(request, "edit response").await?;
    match parsed.finish_reason.as_str() {
        "SUCCESS" => {}
        "CONTENT_FILTERED" => return Err(content_policy(call, "finish_reason CONTENT_FILTERED")),
        other => return Err(malformed(call, format!("unknown finish_reason '{other}'"))),
    }
    let data = STANDARD
        .decode(parsed.image.as_bytes())
        .map_err(|e| malformed(call, format!("image is not base64: {e}")))?;
    let mime =
        sniff_mime(&data).ok_or_else(|| malformed(call, "image is not a PNG, JPEG or WebP"))?;
    Ok(ProviderImage::Bytes {
        data: Bytes::from(data),
        mime: Some(mime),
    })
}
