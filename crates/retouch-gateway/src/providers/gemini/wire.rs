//! Gemini `generateContent` wire: the request with inline images and the candidates we read.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::providers::merge_json;

/// The instruction that introduces the mask image (Gemini has no mask parameter).
pub(crate) const MASK_INSTRUCTION: &str = "The next image is an edit mask with the same size as the \
first image: change only the areas that are white in the mask and keep everything that is black \
exactly as it is. Do not include the mask in the result.";

/// Aspect ratios Gemini's `imageConfig.aspectRatio` accepts.
const ASPECT_RATIOS: [(u32, u32); 10] = [
    (1, 1),
    (2, 3),
    (3, 2),
    (3, 4),
    (4, 3),
    (4, 5),
    (5, 4),
    (9, 16),
    (16, 9),
    (21, 9),
];

/// The supported aspect ratio nearest to `width:height`, as `"W:H"`.
pub(crate) fn aspect_ratio(width: u32, height: u32) -> String {
    let wanted = f64::from(width.max(1)) / f64::from(height.max(1));
    let mut best = (1, 1);
    let mut best_distance = f64::MAX;
    for (w, h) in ASPECT_RATIOS {
        let distance = (f64::from(w) / f64::from(h) / wanted).ln().abs();
        if distance < best_distance {
            best = (w, h);
            best_distance = distance;
        }
    }
    format!("{}:{}", best.0, best.1)
}

/// An inline image part.
pub(crate) fn inline_image(mime: &str, b64: String) -> Value {
    json!({ "inline_data": { "mime_type": mime, "data": b64 } })
}

/// The request body; `overrides` merge last (objects key by key).
pub(crate) fn body(
    parts: Vec<Value>,
    aspect_ratio: Option<String>,
    overrides: &Map<String, Value>,
) -> Value {
    let mut generation = json!({ "responseModalities": ["TEXT", "IMAGE"] });
    if let Some(ratio) = aspect_ratio {
        generation["imageConfig"] = json!({ "aspectRatio": ratio });
    }
    let mut body =
        json!({ "contents": [{ "role": "user", "parts": parts }], "generationConfig": generation });
    merge_json(&mut body, overrides);
    body
}

/// `GenerateContentResponse`, as far as we read it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateResponse {
    #[serde(default)]
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) prompt_feedback: Option<PromptFeedback>,
    pub(crate) usage_metadata: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Candidate {
    pub(crate) content: Option<Content>,
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Content {
    #[serde(default)]
    pub(crate) parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Part {
    pub(crate) text: Option<String>,
    #[serde(alias = "inline_data", rename = "inlineData")]
    pub(crate) inline_data: Option<InlineData>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InlineData {
    #[serde(alias = "mime_type", rename = "mimeType")]
    pub(crate) mime_type: Option<String>,
    pub(crate) data: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PromptFeedback {
    pub(crate) block_reason: Option<String>,
}

/// Finish reasons that mean a safety filter stopped the answer.
pub(crate) const BLOCKED_FINISH_REASONS: [&str; 6] = [
    "SAFETY",
    "PROHIBITED_CONTENT",
    "IMAGE_SAFETY",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
];

#[cfg(test)]
mod tests {
    use super::aspect_ratio;

    #[test]
    fn sizes_map_to_the_nearest_supported_aspect_ratio() {
        assert_eq!(aspect_ratio(1024, 1024), "1:1");
        assert_eq!(aspect_ratio(1536, 1024), "3:2");
        assert_eq!(aspect_ratio(1024, 1536), "2:3");
        assert_eq!(aspect_ratio(1920, 1080), "16:9");
        assert_eq!(aspect_ratio(2560, 1080), "21:9");
        assert_eq!(aspect_ratio(1000, 800), "5:4");
    }
}
