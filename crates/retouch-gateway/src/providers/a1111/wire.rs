//! AUTOMATIC1111 / Forge `/sdapi/v1/img2img` wire: the inpainting request body and the answer
//! `{images[], parameters, info}`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::providers::merge_json;

/// Caller fields forwarded when present (A1111's usual generation parameters), parsed as JSON
/// numbers/booleans where they are, strings otherwise.
pub(crate) const PASSTHROUGH_FIELDS: [&str; 9] = [
    "negative_prompt",
    "steps",
    "cfg_scale",
    "sampler_name",
    "scheduler",
    "denoising_strength",
    "mask_blur",
    "inpainting_fill",
    "seed",
];

/// What goes into the body.
#[derive(Debug)]
pub(crate) struct Img2Img<'a> {
    pub(crate) init_image_b64: String,
    pub(crate) mask_b64: Option<String>,
    pub(crate) prompt: &'a str,
    pub(crate) batch_size: u32,
    pub(crate) size: Option<(u32, u32)>,
    pub(crate) model: Option<&'a str>,
    pub(crate) extra: Vec<(String, String)>,
}

impl Img2Img<'_> {
    /// The JSON body, with `overrides` merged last (objects merge key by key).
    pub(crate) fn into_body(self, overrides: &Map<String, Value>) -> Value {
        let mut body = json!({
            "init_images": [self.init_image_b64],
            "prompt": self.prompt,
            "batch_size": self.batch_size,
            "n_iter": 1,
            // Inpaint where the mask is white (A1111's default, stated so it cannot drift).
            "inpainting_mask_invert": 0,
            // Start from the original pixels under the mask, the closest to an edit.
            "inpainting_fill": 1,
            "denoising_strength": 0.75,
            "do_not_save_grid": true,
            "do_not_save_samples": true,
            "override_settings": { "return_grid": false },
            "override_settings_restore_afterwards": true,
        });
        if let Some(mask) = self.mask_b64 {
            body["mask"] = Value::String(mask);
        }
        if let Some((width, height)) = self.size {
            // A1111 renders at multiples of 8.
            body["width"] = json!(round8(width));
            body["height"] = json!(round8(height));
        }
        if let Some(model) = self.model {
            body["override_settings"]["sd_model_checkpoint"] = Value::String(model.to_owned());
        }
        for (name, value) in self.extra {
            body[name.as_str()] = serde_json::from_str(&value).unwrap_or(Value::String(value));
        }
        merge_json(&mut body, overrides);
        body
    }
}

fn round8(side: u32) -> u32 {
    (side.max(8) / 8) * 8
}

/// The answer, as far as we read it.
#[derive(Debug, Deserialize)]
pub(crate) struct Img2ImgResponse {
    pub(crate) images: Vec<String>,
}
