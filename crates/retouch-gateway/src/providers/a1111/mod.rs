//! `a1111`: AUTOMATIC1111 / Forge `POST {base}/sdapi/v1/img2img` inpainting (base default
//! `http://127.0.0.1:7860`). Optional HTTP Basic auth: the key is `user:password`
//! (`--api-auth`).
//!
//! - The first image goes as the only `init_images` entry, its bytes unchanged (base64).
//! - Mask: white-is-edit grayscale PNG (`L = 255 − alpha`) from the mask or, without one, from
//!   the image's transparent pixels, with `inpainting_mask_invert: 0`. A grayscale PNG has no
//!   alpha, so A1111's "read an RGBA mask from its alpha" pitfall cannot invert it. An image with
//!   no transparent pixels and no mask is a plain img2img of the whole image.
//! - `n` → `batch_size` in one call; grids are disabled, and a grid that arrives anyway is dropped.
//! - `size` → `width`/`height` (multiples of 8); the model override → `sd_model_checkpoint`.

mod wire;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use reqwest::Method;
use retouch_api::ApiError;

use super::error::malformed;
use super::{Call, ProviderImage, ProviderImages, ProviderOutput, edit_bitmap, sniff_mime};

pub(crate) async fn edit(call: &Call<'_>) -> Result<ProviderOutput, ApiError> {
    let provider = call.slug();
    let url = call.endpoint("sdapi/v1/img2img")?;
    let first = call
        .request
        .images
        .first()
        .ok_or_else(|| ApiError::missing_param("image"))?;
    let (bitmap, _) = edit_bitmap(call.request).await?;
    let mask_b64 = if bitmap.is_empty() {
        None
    } else {
        Some(STANDARD.encode(bitmap.to_white_is_edit_png()?))
    };
    let n = call.edit.n.max(1);
    let extra = call
        .request
        .extra
        .iter()
        .filter(|(name, _)| wire::PASSTHROUGH_FIELDS.contains(&name.as_str()))
        .cloned()
        .collect();
    let body = wire::Img2Img {
        init_image_b64: STANDARD.encode(&first.data),
        mask_b64,
        prompt: &call.request.prompt,
        batch_size: n,
        size: call.edit.size,
        model: call.target.model.as_deref(),
        extra,
    }
    .into_body(&call.target.override_params);

    let mut request = call
        .client
        .request(provider, Method::POST, &url)?
        .json(&body);
    request = call.target.apply_forward_headers(request);
    if let Some(key) = &call.target.api_key {
        request = match key.expose().split_once(':') {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request.bearer_auth(key.expose()),
        };
    }
    let parsed: wire::Img2ImgResponse = call.exchange_json(request, "img2img response").await?;
    let wanted = n as usize;
    if parsed.images.len() < wanted {
        return Err(malformed(
            call,
            format!("asked for {wanted} images, got {}", parsed.images.len()),
        ));
    }
    // A grid, when one is still prepended, comes first: keep the last `n`.
    let skip = parsed.images.len() - wanted;
    let mut images = Vec::with_capacity(wanted);
    for (index, b64) in parsed.images.into_iter().skip(skip).enumerate() {
        let payload = b64
            .split_once(";base64,")
            .map_or(b64.as_str(), |(_, data)| data);
        let data = STANDARD
            .decode(payload.as_bytes())
            .map_err(|e| malformed(call, format!("images[{index}] is not base64: {e}")))?;
        let mime = sniff_mime(&data)
            .ok_or_else(|| malformed(call, format!("images[{index}] is not an image")))?;
        images.push(ProviderImage::Bytes {
            data: Bytes::from(data),
            mime: Some(mime),
        });
    }
    Ok(ProviderOutput::Images(ProviderImages {
        images,
        ..ProviderImages::default()
    }))
}
