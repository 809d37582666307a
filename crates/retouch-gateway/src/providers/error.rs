//! Upstream failures → OpenAI-shaped errors, the same way for every adapter.
//!
//! - The upstream's 4xx is the caller's problem: its status and its own message pass through
//!   (OpenAI-shaped bodies keep their `type`/`code`/`param`; other shapes — Stability
//!   `{name, errors[]}`, Gemini `{error:{message,status}}`, FastAPI `{detail}` — give their text).
//!   429 keeps `retry-after`. Gemini's "API key not valid" 400 becomes the 401 it means.
//! - The upstream's 5xx, and a 2xx we cannot read, are 502 naming the provider; their bodies go
//!   to `detail` (logs), not to the client.
//! - Every message is scrubbed of the credential, in case an upstream echoes it.

use std::time::Duration;

use reqwest::header::HeaderMap;
use retouch_api::{ApiError, ErrorBody, ErrorKind, ErrorSource};
use serde_json::Value;

use super::Call;
use super::target::Secret;

/// Longest upstream text quoted in a client-facing message.
const MAX_QUOTED: usize = 500;

/// An upstream's non-success answer as an [`ApiError`].
pub(crate) fn upstream_status(
    call: &Call<'_>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiError {
    let provider = call.slug();
    let secret = call.target.api_key.as_ref();
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let retry_after = retry_after(headers);
    if !(400..500).contains(&status) {
        let mut error = ApiError::new(
            502,
            ErrorKind::Upstream,
            format!("The upstream provider '{provider}' failed with HTTP {status}."),
        )
        .with_code("upstream_error")
        .with_source(ErrorSource::Upstream)
        .with_provider(provider)
        .with_upstream_status(status)
        .with_retryable(true)
        .with_detail(redact(
            &String::from_utf8_lossy(truncate(body, 2000)),
            secret,
        ));
        error.retry_after = retry_after;
        return error;
    }
    let openai_family = call.provider.streams();
    let mut error = match json.as_ref().and_then(openai_body) {
        Some(body) if openai_family => ApiError::from_upstream_body(status, body, provider),
        Some(_) | None => {
            let text = json.as_ref().and_then(message_of).unwrap_or_else(|| {
                let raw = String::from_utf8_lossy(truncate(body, MAX_QUOTED))
                    .trim()
                    .to_owned();
                if raw.is_empty() {
                    format!("HTTP {status}")
                } else {
                    raw
                }
            });
            let text = clip(&text);
            let (status, kind) = kind_for(status, json.as_ref());
            let message = if openai_family {
                text
            } else {
                format!("The upstream provider '{provider}' rejected the request: {text}")
            };
            let mut e = ApiError::new(status, kind, message);
            if status == 401 {
                e = e.with_code("invalid_api_key");
            }
            e
        }
    };
    error.message = redact(&error.message, secret);
    error.source = ErrorSource::Upstream;
    error.provider = Some(provider.to_owned());
    error.retryable = matches!(error.status, 408 | 409 | 429);
    if error.status == 429 {
        error.retry_after = retry_after;
    }
    error
}

/// Status and kind for a non-OpenAI 4xx.
fn kind_for(status: u16, json: Option<&Value>) -> (u16, ErrorKind) {
    let gemini_bad_key = json
        .and_then(|j| j.pointer("/error/details"))
        .and_then(Value::as_array)
        .is_some_and(|details| {
            details
                .iter()
                .any(|d| d.get("reason").and_then(Value::as_str) == Some("API_KEY_INVALID"))
        });
    match status {
        _ if gemini_bad_key => (401, ErrorKind::Authentication),
        401 => (401, ErrorKind::Authentication),
        403 => (403, ErrorKind::PermissionDenied),
        404 => (404, ErrorKind::NotFound),
        429 => (429, ErrorKind::RateLimit),
        other => (other, ErrorKind::InvalidRequest),
    }
}

fn openai_body(json: &Value) -> Option<ErrorBody> {
    let object = json.get("error")?;
    // OpenAI's shape has a string `message` and a string `type`; Gemini's has `status` instead.
    object.get("message")?.as_str()?;
    object.get("type")?.as_str()?;
    serde_json::from_value(json.clone()).ok()
}

/// The human text of a non-OpenAI error body.
fn message_of(json: &Value) -> Option<String> {
    if let Some(message) = json.pointer("/error/message").and_then(Value::as_str) {
        return Some(message.to_owned());
    }
    if let Some(errors) = json.get("errors").and_then(Value::as_array) {
        let texts: Vec<&str> = errors.iter().filter_map(Value::as_str).collect();
        if !texts.is_empty() {
            return Some(texts.join("; "));
        }
    }
    match json.get("detail") {
        Some(Value::String(text)) if !text.is_empty() => return Some(text.clone()),
        Some(Value::Array(items)) => {
            let texts: Vec<String> = items
                .iter()
                .map(|item| {
                    let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                    let loc = item.get("loc").and_then(Value::as_array).map(|loc| {
                        loc.iter()
                            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                            .collect::<Vec<_>>()
                            .join(".")
                    });
                    loc.map_or_else(|| msg.to_owned(), |loc| format!("{loc}: {msg}"))
                })
                .collect();
            if !texts.is_empty() {
                return Some(texts.join("; "));
            }
        }
        Some(_) | None => {}
    }
    for key in ["errors", "error", "message"] {
        if let Some(text) = json
            .get(key)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            return Some(text.to_owned());
        }
    }
    None
}

/// `retry-after-ms`, `x-ms-retry-after-ms` or `retry-after` (seconds).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = header(name)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|ms| ms.is_finite() && *ms >= 0.0)
        {
            return Some(Duration::from_millis(ms as u64));
        }
    }
    header("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// A 2xx answer we cannot use.
pub(crate) fn malformed(call: &Call<'_>, what: impl Into<String>) -> ApiError {
    let provider = call.slug();
    ApiError::bad_gateway(provider, redact(&what.into(), call.target.api_key.as_ref()))
}

/// A content-filter verdict as OpenAI's DALL·E-style 400 `content_policy_violation`.
pub(crate) fn content_policy(call: &Call<'_>, detail: &str) -> ApiError {
    ApiError::invalid_request(
        format!(
            "Your request was rejected as a result of the safety system of the upstream provider \
             '{}' ({detail}). Your prompt or image may contain content that is not allowed.",
            call.slug()
        ),
        None,
    )
    .with_code("content_policy_violation")
    .with_source(ErrorSource::Upstream)
    .with_provider(call.slug())
    .with_retryable(false)
}

/// Removes a credential (and its parts, for `user:password`) from text.
pub(crate) fn redact(text: &str, secret: Option<&Secret>) -> String {
    let Some(secret) = secret else {
        return text.to_owned();
    };
    let value = secret.expose();
    let mut out = text.to_owned();
    let mut needles = vec![value.to_owned()];
    if let Some((_, password)) = value.split_once(':') {
        // HTTP Basic credentials travel base64-encoded, and the password alone is secret too.
        needles.push(base64_of(value));
        needles.push(password.to_owned());
    }
    for needle in needles.iter().filter(|n| n.len() >= 4) {
        out = out.replace(needle.as_str(), "***");
    }
    out
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn truncate(body: &[u8], max: usize) -> &[u8] {
    &body[..body.len().min(max)]
}

fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(MAX_QUOTED).collect();
    clipped.push('…');
    clipped
}
