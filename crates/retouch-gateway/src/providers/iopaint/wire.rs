//! IOPaint `/api/v1/inpaint` wire: the JSON request (base64 image and white-is-edit mask); the
//! answer is the raw image file.

use serde_json::{Map, Value, json};

use crate::providers::merge_json;

/// Caller fields forwarded when present (IOPaint's `InpaintRequest` options).
pub(crate) const PASSTHROUGH_FIELDS: [&str; 8] = [
    "negative_prompt",
    "sd_steps",
    "sd_strength",
    "sd_guidance_scale",
    "sd_sampler",
    "hd_strategy",
    "cv2_flag",
    "cv2_radius",
];

/// The request body for one call; `overrides` merge last.
pub(crate) fn body(
    image_b64: &str,
    mask_b64: &str,
    prompt: &str,
    seed: u64,
    extra: &[(String, String)],
    overrides: &Map<String, Value>,
) -> Value {
    let mut body = json!({
        "image": image_b64,
        "mask": mask_b64,
        "prompt": prompt,
        "sd_seed": seed,
    });
    for (name, value) in extra {
        body[name.as_str()] =
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.clone()));
    }
    merge_json(&mut body, overrides);
    body
}
