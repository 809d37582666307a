//! `override_params` applied to the request itself, multipart or JSON alike (Portkey ignores
//! them on multipart). The overridden request is what validation sees (so `model` picks the
//! target model's rules) and what the local engine runs; remote adapters also receive the
//! overrides and write them into their own wire format.

use retouch_api::{
    ApiError, Background, EditRequest, InputFidelity, Moderation, OutputFormat, Quality,
    ResponseFormat, SizeParam,
};
use serde_json::Value;

/// The request with `overrides` applied: known fields parsed into their types, `null` clears
/// a field, anything else replaces or joins the pass-through fields.
pub(crate) fn apply(
    request: &EditRequest,
    overrides: &serde_json::Map<String, Value>,
) -> Result<EditRequest, ApiError> {
    let mut out = request.clone();
    for (key, value) in overrides {
        let text = as_text(value);
        let bad = || {
            ApiError::invalid_request(
                format!("override_params.{key}: {value} is not a valid value for '{key}'."),
                Some("x-portkey-config"),
            )
            .with_code("invalid_config")
        };
        let t = text.as_deref();
        match key.as_str() {
            "model" => out.model = text.clone(),
            "prompt" => out.prompt = text.clone().ok_or_else(bad)?,
            "n" => {
                out.n = parse_opt(t, |s| s.parse().ok().filter(|n| (1..=10).contains(n)))
                    .ok_or_else(bad)?
            }
            "size" => out.size = parse_opt(t, SizeParam::parse).ok_or_else(bad)?,
            "response_format" => {
                out.response_format = parse_opt(t, ResponseFormat::parse).ok_or_else(bad)?;
            }
            "quality" => out.quality = parse_opt(t, Quality::parse).ok_or_else(bad)?,
            "background" => out.background = parse_opt(t, Background::parse).ok_or_else(bad)?,
            "output_format" => {
                out.output_format = parse_opt(t, OutputFormat::parse).ok_or_else(bad)?;
            }
            "output_compression" => {
                out.output_compression =
                    parse_opt(t, |s| s.parse().ok().filter(|c| *c <= 100)).ok_or_else(bad)?;
            }
            "input_fidelity" => {
                out.input_fidelity = parse_opt(t, InputFidelity::parse).ok_or_else(bad)?;
            }
            "moderation" => out.moderation = parse_opt(t, Moderation::parse).ok_or_else(bad)?,
            "partial_images" => {
                out.partial_images =
                    parse_opt(t, |s| s.parse().ok().filter(|p| *p <= 3)).ok_or_else(bad)?;
            }
            "user" => out.user = text.clone(),
            // The caller chose how to receive the answer; a config cannot turn streaming on or
            // off under it.
            "stream" => {}
            other => {
                out.extra.retain(|(name, _)| name != other);
                if let Some(text) = text {
                    out.extra.push((other.to_owned(), text));
                }
            }
        }
    }
    Ok(out)
}

/// `Some(None)` for a cleared field, `Some(Some(v))` for a parsed one, `None` when invalid.
fn parse_opt<T>(text: Option<&str>, parse: impl Fn(&str) -> Option<T>) -> Option<Option<T>> {
    match text {
        None => Some(None),
        Some(s) => parse(s).map(Some),
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => {
            Some(value.to_string())
        }
    }
}

/// The request's parameters as facts for conditional routing (`params.*`).
pub(crate) fn params_facts(request: &EditRequest) -> Value {
    let mut map = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            map.insert(k.to_owned(), v);
        }
    };
    put("model", request.model.clone().map(Value::from));
    put("prompt", Some(Value::from(request.prompt.clone())));
    put("n", request.n.map(Value::from));
    put("size", request.size.map(|s| Value::from(s.to_string())));
    put(
        "response_format",
        request.response_format.map(|v| Value::from(v.as_str())),
    );
    put("quality", request.quality.map(|v| Value::from(v.as_str())));
    put(
        "background",
        request.background.map(|v| Value::from(v.as_str())),
    );
    put(
        "output_format",
        request.output_format.map(|v| Value::from(v.as_str())),
    );
    put(
        "output_compression",
        request.output_compression.map(Value::from),
    );
    put(
        "input_fidelity",
        request.input_fidelity.map(|v| Value::from(v.as_str())),
    );
    put(
        "moderation",
        request.moderation.map(|v| Value::from(v.as_str())),
    );
    put("stream", request.stream.map(Value::from));
    put("partial_images", request.partial_images.map(Value::from));
    put("user", request.user.clone().map(Value::from));
    for (name, value) in &request.extra {
        map.entry(name.clone())
            .or_insert_with(|| Value::from(value.clone()));
    }
    Value::Object(map)
}
