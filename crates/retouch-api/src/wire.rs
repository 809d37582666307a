//! Response types, serialised exactly as OpenAI sends them: `ImagesResponse`, usage, and the
//! `image_edit.*` server-sent events.
//!
//! Optional fields are omitted when absent (dall-e-2 responses carry only `created` and `data`).
//! String-typed `size`/`quality`/`background`/`output_format` let the gateway relay an upstream's
//! values it does not know without failing. Also here: the documented usage estimate for the local
//! engine, which has no tokens of its own but must report `usage` like a GPT image model.

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorBody};

/// `ImagesResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagesResponse {
    /// Unix seconds; always present.
    pub created: u64,
    /// The images.
    #[serde(default)]
    pub data: Vec<ImageData>,
    /// Resolved background (`transparent` | `opaque`), GPT-style responses only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// Resolved output format (`png` | `jpeg` | `webp`), GPT-style responses only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_format: Option<String>,
    /// Resolved quality (`low` | `medium` | `high`), GPT-style responses only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// Resolved size `WxH`, GPT-style responses only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Token usage, GPT-style responses only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One image in `data[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageData {
    /// A link to the image (`response_format=url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The image, base64-encoded (`response_format=b64_json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    /// Never set by edits; kept so upstream bodies round-trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
}

/// `usage` (`ImageGenUsage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Text + image input tokens.
    pub input_tokens: u64,
    /// Breakdown of `input_tokens`.
    pub input_tokens_details: InputTokensDetails,
    /// Output image tokens.
    pub output_tokens: u64,
    /// `input_tokens + output_tokens`.
    pub total_tokens: u64,
}

/// `usage.input_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    /// Prompt tokens.
    pub text_tokens: u64,
    /// Input image tokens.
    pub image_tokens: u64,
}

/// Output tokens per 1024×1024 image at each quality, as OpenAI bills gpt-image-1.
const OUTPUT_TOKENS_PER_MEGAPIXEL: [(crate::params::Quality, u64); 3] = [
    (crate::params::Quality::Low, 272),
    (crate::params::Quality::Medium, 1056),
    (crate::params::Quality::High, 4160),
];

impl Usage {
    /// Estimates usage the way OpenAI counts it, for engines that have no tokens of their own.
    ///
    /// - Text: `ceil(chars / 4)` (the usual ~4 characters per token).
    /// - Each input image: scaled to fit 2048×2048, then its shorter side to at most 768, then
    ///   `85 + 170 × (number of 512×512 tiles)` (OpenAI's vision formula).
    /// - Each output image: gpt-image-1's per-image tokens for 1024×1024 (272 low, 1056 medium,
    ///   4160 high; `standard`/`auto` count as medium, `xhigh`/`max` as high), scaled by pixel
    ///   area, so 1536×1024 high is 6240 as OpenAI bills it.
    pub fn estimate(
        prompt: &str,
        input_sizes: &[(u32, u32)],
        output: (u32, u32),
        n: u32,
        quality: crate::params::Quality,
    ) -> Self {
        use crate::params::Quality;
        let text_tokens = (prompt.chars().count() as u64).div_ceil(4);
        let image_tokens: u64 = input_sizes
            .iter()
            .map(|&(w, h)| image_input_tokens(w, h))
            .sum();
        let bucket = match quality {
            Quality::Low => Quality::Low,
            Quality::Medium | Quality::Standard | Quality::Auto => Quality::Medium,
            Quality::High | Quality::XHigh | Quality::Max => Quality::High,
        };
        let per_mp = OUTPUT_TOKENS_PER_MEGAPIXEL
            .iter()
            .find(|(q, _)| *q == bucket)
            .map_or(1056, |(_, t)| *t);
        let pixels = u64::from(output.0) * u64::from(output.1);
        let per_image = (per_mp * pixels).div_ceil(1024 * 1024);
        let output_tokens = per_image * u64::from(n);
        let input_tokens = text_tokens + image_tokens;
        Self {
            input_tokens,
            input_tokens_details: InputTokensDetails {
                text_tokens,
                image_tokens,
            },
            output_tokens,
            total_tokens: input_tokens + output_tokens,
        }
    }
}

fn image_input_tokens(width: u32, height: u32) -> u64 {
    let (mut w, mut h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let fit = (2048.0 / w.max(h)).min(1.0);
    w *= fit;
    h *= fit;
    let short = (768.0 / w.min(h)).min(1.0);
    w *= short;
    h *= short;
    let tiles_w = (w / 512.0).ceil();
    let tiles_h = (h / 512.0).ceil();
    // Both are small positive integers (at most 4), so the casts are exact.
    let tiles = (tiles_w * tiles_h) as u64;
    85 + 170 * tiles
}

/// `image_edit.partial_image` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEditPartialImageEvent {
    /// The partial image, base64.
    pub b64_json: String,
    /// Unix seconds.
    pub created_at: u64,
    /// `WxH`.
    pub size: String,
    /// Resolved quality.
    pub quality: String,
    /// Resolved background.
    pub background: String,
    /// Output format.
    pub output_format: String,
    /// 0-based index of this partial image.
    pub partial_image_index: u32,
}

/// `image_edit.completed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageEditCompletedEvent {
    /// The final image, base64.
    pub b64_json: String,
    /// Unix seconds.
    pub created_at: u64,
    /// `WxH`.
    pub size: String,
    /// Resolved quality.
    pub quality: String,
    /// Resolved background.
    pub background: String,
    /// Output format.
    pub output_format: String,
    /// Token usage.
    pub usage: Usage,
}

/// One server-sent event of a streaming edit. Serialised with its `type` discriminator, which is
/// what the SDKs dispatch on (they ignore the `event:` line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StreamEvent {
    /// A partial image.
    #[serde(rename = "image_edit.partial_image")]
    PartialImage(ImageEditPartialImageEvent),
    /// A finished image.
    #[serde(rename = "image_edit.completed")]
    Completed(ImageEditCompletedEvent),
    /// A failure mid-stream: `{"type":"error","error":{...}}`; both SDKs raise on a top-level
    /// `error` key.
    #[serde(rename = "error")]
    Error(ErrorBody),
}

impl StreamEvent {
    /// An error event from an `ApiError` (5xx internals hidden, as in plain responses).
    pub fn error(e: &ApiError) -> Self {
        Self::Error(e.body())
    }

    /// The SSE `event:` name.
    pub fn event_name(&self) -> &'static str {
        match self {
            Self::PartialImage(_) => "image_edit.partial_image",
            Self::Completed(_) => "image_edit.completed",
            Self::Error(_) => "error",
        }
    }

    /// `event: <name>\ndata: <json>\n\n`.
    pub fn to_sse(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","error":{"message":"An error occurred while processing your request.","type":"server_error","param":null,"code":null}}"#
                .to_owned()
        });
        format!("event: {}\ndata: {json}\n\n", self.event_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Quality;
    use serde_json::json;

    #[test]
    fn dalle_style_response_has_only_created_and_data() {
        let r = ImagesResponse {
            created: 1_713_833_628,
            data: vec![ImageData {
                url: Some("http://x/y.png".into()),
                ..ImageData::default()
            }],
            background: None,
            output_format: None,
            quality: None,
            size: None,
            usage: None,
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"created":1_713_833_628,"data":[{"url":"http://x/y.png"}]})
        );
    }

    #[test]
    fn gpt_style_response_matches_spec_example() {
        let spec = json!({"created":1_713_833_628,"data":[{"b64_json":"..."}],"background":"transparent","output_format":"png","size":"1024x1024","quality":"high","usage":{"total_tokens":100,"input_tokens":50,"output_tokens":50,"input_tokens_details":{"text_tokens":10,"image_tokens":40}}});
        let r: ImagesResponse = serde_json::from_value(spec.clone()).unwrap();
        assert_eq!(r.usage.unwrap().input_tokens_details.image_tokens, 40);
        assert_eq!(serde_json::to_value(&r).unwrap(), spec);
    }

    #[test]
    fn sse_events_carry_type_and_event_line() {
        let ev = StreamEvent::PartialImage(ImageEditPartialImageEvent {
            b64_json: "AAA".into(),
            created_at: 5,
            size: "1024x1024".into(),
            quality: "high".into(),
            background: "opaque".into(),
            output_format: "png".into(),
            partial_image_index: 0,
        });
        let sse = ev.to_sse();
        assert!(sse.starts_with("event: image_edit.partial_image\ndata: {"));
        assert!(sse.ends_with("}\n\n"));
        let data: serde_json::Value =
            serde_json::from_str(sse.lines().nth(1).unwrap().strip_prefix("data: ").unwrap())
                .unwrap();
        assert_eq!(
            data,
            json!({"type":"image_edit.partial_image","b64_json":"AAA","created_at":5,"size":"1024x1024","quality":"high","background":"opaque","output_format":"png","partial_image_index":0})
        );

        let done = StreamEvent::Completed(ImageEditCompletedEvent {
            b64_json: "BBB".into(),
            created_at: 6,
            size: "512x512".into(),
            quality: "low".into(),
            background: "transparent".into(),
            output_format: "webp".into(),
            usage: Usage::default(),
        });
        assert_eq!(done.event_name(), "image_edit.completed");
        let v = serde_json::to_value(&done).unwrap();
        assert_eq!(v["type"], "image_edit.completed");
        assert_eq!(v["usage"]["input_tokens_details"]["text_tokens"], 0);
    }

    #[test]
    fn error_event_has_top_level_error_key() {
        let ev = StreamEvent::error(&ApiError::internal("boom at /etc"));
        let sse = ev.to_sse();
        assert!(sse.starts_with("event: error\n"));
        let data: serde_json::Value =
            serde_json::from_str(sse.lines().nth(1).unwrap().strip_prefix("data: ").unwrap())
                .unwrap();
        assert_eq!(data["type"], "error");
        assert_eq!(data["error"]["type"], "server_error");
        assert!(data["error"].get("param").is_some());
        assert!(!sse.contains("/etc"));
    }

    #[test]
    fn usage_estimate_follows_documented_formula() {
        // 1024x1024 input: fit 2048 → unchanged; short side 768 → 768x768 → 2x2 tiles → 765.
        let u = Usage::estimate("abcdefgh", &[(1024, 1024)], (1024, 1024), 1, Quality::High);
        assert_eq!(u.input_tokens_details.text_tokens, 2);
        assert_eq!(u.input_tokens_details.image_tokens, 85 + 170 * 4);
        assert_eq!(u.output_tokens, 4160);
        assert_eq!(u.total_tokens, u.input_tokens + u.output_tokens);
        let u = Usage::estimate("abcdefghi", &[], (1536, 1024), 2, Quality::High);
        assert_eq!(u.input_tokens_details.text_tokens, 3);
        assert_eq!(u.output_tokens, 6240 * 2);
        let u = Usage::estimate(
            "a",
            &[(512, 512), (100, 100)],
            (1024, 1536),
            1,
            Quality::Low,
        );
        assert_eq!(u.input_tokens_details.image_tokens, 255 + 255);
        assert_eq!(u.output_tokens, 408);
        let u = Usage::estimate("a", &[], (1024, 1024), 1, Quality::Auto);
        assert_eq!(u.output_tokens, 1056);
    }
}
