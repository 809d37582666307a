//! `iopaint`: a local IOPaint server's `POST {base}/api/v1/inpaint` (base default
//! `http://127.0.0.1:8080`; LaMa, MAT, SD inpainting, whatever model it runs).
//!
//! - Body: the first image's bytes unchanged (base64) and a white-is-edit grayscale mask
//!   (`L = 255 − alpha`) of the same size, from the mask or the image's transparent pixels.
//!   With neither there is nothing to inpaint: 400 before any call.
//! - `n`: one image per call, fanned out in parallel (bounded), `sd_seed` differing per call.
//! - The answer is the raw image file; anything that is not a PNG/JPEG/WebP is a 502.
//! - IOPaint has no auth of its own; a key, when set, is sent as Bearer (for a proxy in front).

mod wire;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use retouch_api::ApiError;

use super::error::malformed;
use super::{
    Call, ProviderImage, ProviderImages, ProviderOutput, edit_bitmap, seed_base, sniff_mime,
};

pub(crate) async fn edit(call: &Call<'_>) -> Result<ProviderOutput, ApiError> {
    let url = call.endpoint("api/v1/inpaint")?;
    let first = call
        .request
        .images
        .first()
        .ok_or_else(|| ApiError::missing_param("image"))?;
    let (bitmap, _) = edit_bitmap(call.request).await?;
    if bitmap.is_empty() {
        return Err(ApiError::invalid_request(
            "Nothing to edit: IOPaint inpaints a region, so send a mask (or an image) with fully \
             transparent pixels where the edit should go.",
            Some("mask"),
        ));
    }
    let image_b64 = STANDARD.encode(&first.data);
    let mask_b64 = STANDARD.encode(bitmap.to_white_is_edit_png()?);
    let extra: Vec<(String, String)> = call
        .request
        .extra
        .iter()
        .filter(|(name, _)| wire::PASSTHROUGH_FIELDS.contains(&name.as_str()))
        .cloned()
        .collect();
    let seed = seed_base(call.request).unwrap_or_else(|| u64::from(rand::random::<u32>()));
    let images = tokio::time::timeout(
        call.target.timeout,
        call.fan_out(|index| {
            let url = url.clone();
            let body = wire::body(
                &image_b64,
                &mask_b64,
                &call.request.prompt,
                seed.wrapping_add(u64::from(index)),
                &extra,
                &call.target.override_params,
            );
            async move { one(call, &url, &body).await }
        }),
    )
    .await
    .map_err(|_| ApiError::gateway_timeout(call.slug()))??;
    Ok(ProviderOutput::Images(ProviderImages {
        images,
        ..ProviderImages::default()
    }))
}

async fn one(
    call: &Call<'_>,
    url: &url::Url,
    body: &serde_json::Value,
) -> Result<ProviderImage, ApiError> {
    let provider = call.slug();
    let mut request = call.client.request(provider, Method::POST, url)?.json(body);
    request = call.target.apply_forward_headers(request);
    if let Some(key) = &call.target.api_key {
        request = request.bearer_auth(key.expose());
    }
    let body = call.exchange(request).await?;
    let mime = sniff_mime(&body).ok_or_else(|| {
        malformed(
            call,
            "inpaint answered with something that is not a PNG, JPEG or WebP",
        )
    })?;
    Ok(ProviderImage::Bytes {
        data: body,
        mime: Some(mime),
    })
}
