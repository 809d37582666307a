//! The one error type every client-visible failure becomes, and its OpenAI wire shape.
//!
//! `ApiError` carries what the client sees (status, `type`, `message`, `param`, `code`) plus what
//! the gateway needs to decide what to do next (where the failure came from, whether a retry can
//! help, how long to wait, which provider failed) and an internal `detail` for logs that is never
//! serialised. The body is always `{"error":{"message","type","param","code"}}` with all four keys
//! present (null when absent), as OpenAI's `ErrorResponse` requires.
//!
//! HTTP-framework glue (turning this into a response) lives in the server crate, not here.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Message OpenAI sends with a 500; also used for every internal failure so no internals leak.
pub const INTERNAL_ERROR_MESSAGE: &str = "An error occurred while processing your request. You can \
retry your request, or contact the server operator if the error persists.";

/// The OpenAI error `type` string, as a closed set plus verbatim upstream values.
///
/// Several kinds share a wire string because OpenAI itself uses `invalid_request_error` for 401,
/// 403 and 404 and distinguishes them by status and `code`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// `invalid_request_error`: the request is malformed or violates a parameter rule.
    InvalidRequest,
    /// `image_generation_user_error`: the image inputs are unusable (bad file, unsupported mode).
    ImageGenerationUser,
    /// 401; serialises as `invalid_request_error` (OpenAI sends `code: invalid_api_key`).
    Authentication,
    /// 403; serialises as `invalid_request_error`.
    PermissionDenied,
    /// 404; serialises as `invalid_request_error`.
    NotFound,
    /// 429 rate limit; serialises as `requests` (OpenAI's `type` for request-rate limits).
    RateLimit,
    /// 429 quota exhausted; serialises as `insufficient_quota`.
    InsufficientQuota,
    /// 408/504; serialises as `server_error` with code `timeout`.
    Timeout,
    /// 502: the upstream answered with something unusable; serialises as `server_error`.
    Upstream,
    /// 500; serialises as `server_error`.
    Server,
    /// 503 (overloaded, draining); serialises as `server_error`.
    Unavailable,
    /// An upstream's own `type` string we pass through unchanged.
    Other(String),
}

impl ErrorKind {
    /// The string written into the body's `type` field.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest
            | Self::Authentication
            | Self::PermissionDenied
            | Self::NotFound => "invalid_request_error",
            Self::ImageGenerationUser => "image_generation_user_error",
            Self::RateLimit => "requests",
            Self::InsufficientQuota => "insufficient_quota",
            Self::Timeout | Self::Upstream | Self::Server | Self::Unavailable => "server_error",
            Self::Other(s) => s,
        }
    }

    /// Maps a wire `type` string back to a kind; ambiguous strings map to the most common kind.
    pub fn from_wire(s: &str) -> Self {
        match s {
            "invalid_request_error" => Self::InvalidRequest,
            "image_generation_user_error" => Self::ImageGenerationUser,
            "requests" | "tokens" | "rate_limit_exceeded" => Self::RateLimit,
            "insufficient_quota" => Self::InsufficientQuota,
            "server_error" => Self::Server,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(Self::from_wire(&s))
    }
}

/// Where a failure came from (pingora's `ErrorSource`): decides logging level and retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorSource {
    /// The caller sent something we refuse; retrying the same request cannot help.
    Client,
    /// A provider failed or refused.
    Upstream,
    /// Our own fault (bug, I/O, exhausted resources).
    Internal,
}

/// A client-visible failure: the OpenAI error body plus routing metadata.
///
/// Boxed so `Result<T, ApiError>` stays one pointer wide on the happy path (TensorZero's
/// `Error(Arc<ErrorDetails>)` shape); fields are reached through `Deref`/`DerefMut`, so
/// `err.status` and `err.param = ...` read naturally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(Box<ApiErrorData>);

impl std::ops::Deref for ApiError {
    type Target = ApiErrorData;
    fn deref(&self) -> &ApiErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorData {
        &mut self.0
    }
}

impl From<ApiErrorData> for ApiError {
    fn from(data: ApiErrorData) -> Self {
        Self(Box::new(data))
    }
}

impl ApiError {
    /// The fields, by value.
    pub fn into_data(self) -> ApiErrorData {
        *self.0
    }
}

/// The fields of an [`ApiError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErrorData {
    /// HTTP status code.
    pub status: u16,
    /// Serialised as the body's `type`.
    pub kind: ErrorKind,
    /// Human-readable message saying what to fix. Never contains secrets or internals.
    pub message: String,
    /// The offending parameter, e.g. `image`, `size`, `images[0].image_url`.
    pub param: Option<String>,
    /// Machine-readable code, e.g. `invalid_value`, `integer_above_max_value`.
    pub code: Option<String>,
    /// Who is at fault.
    pub source: ErrorSource,
    /// Whether sending the same request again (or to another target) may succeed.
    pub retryable: bool,
    /// How long the caller should wait before retrying (`retry-after`).
    pub retry_after: Option<Duration>,
    /// The provider that failed, when the failure came from one.
    pub provider: Option<String>,
    /// Internal explanation for logs; never serialised into a response.
    pub detail: Option<String>,
    /// The status the upstream itself answered, when this error stands for it (an upstream 503
    /// is sent to the client as 502, but fallback and retry rules are written against 503).
    pub upstream_status: Option<u16>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.kind, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

// Hand-written because thiserror would treat the `source` field as the error's cause.
impl std::error::Error for ApiError {}

/// `{"error": {...}}`, OpenAI's `ErrorResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error object.
    pub error: ErrorObject,
}

/// OpenAI's `Error` schema: all four keys are required and nullable, so `None` serialises as null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// Human-readable message.
    pub message: String,
    /// Error type string, e.g. `invalid_request_error`.
    #[serde(rename = "type")]
    pub r#type: String,
    /// Offending parameter.
    #[serde(default)]
    pub param: Option<String>,
    /// Machine-readable code.
    #[serde(default)]
    pub code: Option<String>,
}

impl ApiError {
    /// A fully specified error; the named constructors below cover the common cases.
    pub fn new(status: u16, kind: ErrorKind, message: impl Into<String>) -> Self {
        let source = if status >= 500 {
            ErrorSource::Internal
        } else {
            ErrorSource::Client
        };
        Self(Box::new(ApiErrorData {
            status,
            kind,
            message: message.into(),
            param: None,
            code: None,
            source,
            retryable: matches!(status, 408 | 409 | 429) || status >= 500,
            retry_after: None,
            provider: None,
            detail: None,
            upstream_status: None,
        }))
    }

    /// 400 `invalid_request_error` naming the parameter at fault.
    pub fn invalid_request(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut e = Self::new(400, ErrorKind::InvalidRequest, message);
        e.param = param.map(str::to_owned);
        e
    }

    /// 400 `image_generation_user_error` (unusable image inputs), code `invalid_image_file`.
    pub fn invalid_image(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut e = Self::new(400, ErrorKind::ImageGenerationUser, message);
        e.param = param.map(str::to_owned);
        e.with_code("invalid_image_file")
    }

    /// 400 `Missing required parameter: '{param}'.`
    pub fn missing_param(param: &str) -> Self {
        Self::invalid_request(
            format!("Missing required parameter: '{param}'."),
            Some(param),
        )
        .with_code("missing_required_parameter")
    }

    /// 400 `Unknown parameter: '{param}'.` with code `unknown_parameter`.
    pub fn unknown_param(param: &str) -> Self {
        Self::invalid_request(format!("Unknown parameter: '{param}'."), Some(param))
            .with_code("unknown_parameter")
    }

    /// 400 `Invalid value: '{value}'. Supported values are: 'a', 'b', and 'c'.` (code `invalid_value`).
    pub fn invalid_value(param: &str, value: &str, supported: &[&str]) -> Self {
        Self::invalid_request(
            format!(
                "Invalid value: '{value}'. Supported values are: {}.",
                quoted_list(supported)
            ),
            Some(param),
        )
        .with_code("invalid_value")
    }

    /// 400 for a model that does not take a parameter, in OpenAI's observed wording.
    pub fn unsupported_param(model: &str, param: &str) -> Self {
        Self::invalid_request(
            format!("The model '{model}' does not support the '{param}' parameter."),
            Some(param),
        )
        .with_code("unsupported_parameter")
    }

    /// 400 `Invalid '{param}': integer above maximum value. ...` (code `integer_above_max_value`).
    pub fn integer_above_max(param: &str, max: i64, got: i64) -> Self {
        Self::invalid_request(
            format!(
                "Invalid '{param}': integer above maximum value. Expected a value <= {max}, but \
                 got {got} instead."
            ),
            Some(param),
        )
        .with_code("integer_above_max_value")
    }

    /// 400 `Invalid '{param}': integer below minimum value. ...` (code `integer_below_min_value`).
    pub fn integer_below_min(param: &str, min: i64, got: i64) -> Self {
        Self::invalid_request(
            format!(
                "Invalid '{param}': integer below minimum value. Expected a value >= {min}, but \
                 got {got} instead."
            ),
            Some(param),
        )
        .with_code("integer_below_min_value")
    }

    /// 400 `Invalid '{param}': string too long. ...` (code `string_above_max_length`).
    pub fn string_too_long(param: &str, max: usize, got: usize) -> Self {
        Self::invalid_request(
            format!(
                "Invalid '{param}': string too long. Expected a string with maximum length \
                 {max}, but got a string with length {got} instead."
            ),
            Some(param),
        )
        .with_code("string_above_max_length")
    }

    /// 401 with OpenAI's `invalid_api_key` code.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, ErrorKind::Authentication, message).with_code("invalid_api_key")
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, ErrorKind::PermissionDenied, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, ErrorKind::NotFound, message).with_code("not_found")
    }

    /// 405 for a known path called with the wrong method.
    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            405,
            ErrorKind::InvalidRequest,
            format!("Method {method} is not allowed on {path}."),
        )
        .with_code("method_not_allowed")
    }

    /// 408: the client was too slow sending its request.
    pub fn request_timeout() -> Self {
        Self::new(
            408,
            ErrorKind::Timeout,
            "The request body was not received in time. Send it faster or retry.",
        )
        .with_code("timeout")
    }

    /// 413: a body or file exceeded a byte limit. The message should say which and the limit.
    pub fn payload_too_large(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut e =
            Self::new(413, ErrorKind::InvalidRequest, message).with_code("payload_too_large");
        e.param = param.map(str::to_owned);
        e
    }

    /// 415: the request's `Content-Type` is not one this endpoint reads.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, ErrorKind::InvalidRequest, message).with_code("unsupported_media_type")
    }

    /// 429 from our own limits (full engine queue, gateway rate limit).
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        let mut e = Self::new(429, ErrorKind::RateLimit, message).with_code("rate_limit_exceeded");
        e.retry_after = retry_after;
        e
    }

    /// 500 with the generic message; `detail` is kept for logs only.
    pub fn internal(detail: impl Into<String>) -> Self {
        let mut e =
            Self::new(500, ErrorKind::Server, INTERNAL_ERROR_MESSAGE).with_code("server_error");
        e.detail = Some(detail.into());
        e
    }

    /// 502: an upstream answered with something we cannot use.
    pub fn bad_gateway(provider: &str, detail: impl Into<String>) -> Self {
        let mut e = Self::new(
            502,
            ErrorKind::Upstream,
            format!("The upstream provider '{provider}' returned an invalid response."),
        )
        .with_code("bad_gateway");
        e.source = ErrorSource::Upstream;
        e.provider = Some(provider.to_owned());
        e.detail = Some(detail.into());
        e
    }

    /// 503: we cannot take the request now (draining, overloaded).
    pub fn unavailable(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        let mut e =
            Self::new(503, ErrorKind::Unavailable, message).with_code("service_unavailable");
        e.retry_after = retry_after;
        e
    }

    /// 504: an upstream did not answer in time.
    pub fn gateway_timeout(provider: &str) -> Self {
        let mut e = Self::new(
            504,
            ErrorKind::Timeout,
            format!("The upstream provider '{provider}' did not respond in time."),
        )
        .with_code("timeout");
        e.source = ErrorSource::Upstream;
        e.provider = Some(provider.to_owned());
        e
    }

    /// Sets `code`.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Clears `code` (OpenAI sends null for several errors).
    #[must_use]
    pub fn without_code(mut self) -> Self {
        self.code = None;
        self
    }

    /// Sets `param`.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Sets the HTTP status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Sets the error source.
    #[must_use]
    pub fn with_source(mut self, source: ErrorSource) -> Self {
        self.source = source;
        self
    }

    /// Sets whether a retry may help.
    #[must_use]
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Sets `retry-after`.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    /// Names the provider that failed.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Records the status the upstream answered with.
    #[must_use]
    pub fn with_upstream_status(mut self, status: u16) -> Self {
        self.upstream_status = Some(status);
        self
    }

    /// Attaches an internal explanation for logs.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Builds an error from an upstream's OpenAI-shaped body, keeping its type/code/param verbatim.
    pub fn from_upstream_body(status: u16, body: ErrorBody, provider: &str) -> Self {
        let ErrorObject {
            message,
            r#type,
            param,
            code,
        } = body.error;
        let mut e = Self::new(status, ErrorKind::from_wire(&r#type), message);
        e.param = param;
        e.code = code;
        e.source = ErrorSource::Upstream;
        e.provider = Some(provider.to_owned());
        e
    }

    /// The body a client receives. An internal 5xx always carries the generic message.
    pub fn body(&self) -> ErrorBody {
        // Our own 503s (draining, overloaded) carry a message written for the client; other
        // internal 5xx messages may describe internals and are replaced.
        let hide = self.status >= 500
            && self.source == ErrorSource::Internal
            && self.kind != ErrorKind::Unavailable;
        let message = if hide {
            INTERNAL_ERROR_MESSAGE.to_owned()
        } else {
            self.message.clone()
        };
        ErrorBody {
            error: ErrorObject {
                message,
                r#type: self.kind.as_str().to_owned(),
                param: self.param.clone(),
                code: self.code.clone(),
            },
        }
    }

    /// The serialised body.
    pub fn to_json(&self) -> Vec<u8> {
        self.body().to_json()
    }

    /// Whether this is the caller's fault (4xx).
    pub fn is_client_error(&self) -> bool {
        (400..500).contains(&self.status)
    }
}

impl ErrorBody {
    /// Serialises the body; falls back to a fixed body if serialisation somehow fails.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| {
            br#"{"error":{"message":"An error occurred while processing your request.","type":"server_error","param":null,"code":null}}"#
                .to_vec()
        })
    }
}

/// `'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`: OpenAI's list style (Oxford comma).
pub(crate) fn quoted_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => format!("'{one}'"),
        [a, b] => format!("'{a}' and '{b}'"),
        [init @ .., last] => {
            let head: Vec<String> = init.iter().map(|s| format!("'{s}'")).collect();
            format!("{}, and '{last}'", head.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_keeps_its_message_but_internal_errors_do_not() {
        let e = ApiError::unavailable("The server is shutting down.", None);
        assert_eq!(e.body().error.message, "The server is shutting down.");
        let e = ApiError::new(500, ErrorKind::Server, "db password wrong at /etc/x");
        assert_eq!(e.body().error.message, INTERNAL_ERROR_MESSAGE);
    }

    #[test]
    fn body_has_all_four_keys_even_when_null() {
        let e = ApiError::invalid_request("bad", None);
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}})
        );
    }

    #[test]
    fn missing_param_matches_openai_text() {
        let e = ApiError::missing_param("image");
        assert_eq!(e.status, 400);
        assert_eq!(e.message, "Missing required parameter: 'image'.");
        assert_eq!(e.param.as_deref(), Some("image"));
        assert_eq!(e.body().error.r#type, "invalid_request_error");
    }

    #[test]
    fn invalid_value_lists_like_openai() {
        let e = ApiError::invalid_value("size", "1536x1024", &["256x256", "512x512", "1024x1024"]);
        assert_eq!(
            e.message,
            "Invalid value: '1536x1024'. Supported values are: '256x256', '512x512', and '1024x1024'."
        );
        assert_eq!(e.code.as_deref(), Some("invalid_value"));
        assert_eq!(quoted_list(&["a", "b"]), "'a' and 'b'");
        assert_eq!(quoted_list(&["a"]), "'a'");
    }

    #[test]
    fn integer_bounds_match_openai_text() {
        let e = ApiError::integer_above_max("n", 10, 11);
        assert_eq!(
            e.message,
            "Invalid 'n': integer above maximum value. Expected a value <= 10, but got 11 instead."
        );
        assert_eq!(e.code.as_deref(), Some("integer_above_max_value"));
        let e = ApiError::integer_below_min("n", 1, 0);
        assert_eq!(
            e.message,
            "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."
        );
        assert_eq!(e.code.as_deref(), Some("integer_below_min_value"));
    }

    #[test]
    fn internal_errors_hide_details() {
        let e = ApiError::internal("disk /secret/path failed");
        assert_eq!(e.status, 500);
        let body = e.body();
        assert_eq!(body.error.message, INTERNAL_ERROR_MESSAGE);
        assert_eq!(body.error.r#type, "server_error");
        assert!(!String::from_utf8(e.to_json()).unwrap().contains("secret"));
        assert!(e.retryable);
        assert_eq!(e.source, ErrorSource::Internal);
    }

    #[test]
    fn upstream_errors_keep_their_wire_fields() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"error":{"message":"Billing hard limit has been reached.","type":"invalid_request_error","param":null,"code":"billing_hard_limit_reached"}}"#,
        )
        .unwrap();
        let e = ApiError::from_upstream_body(400, body.clone(), "openai");
        assert_eq!(e.source, ErrorSource::Upstream);
        assert_eq!(e.body(), body);
        let odd: ErrorBody = serde_json::from_str(
            r#"{"error":{"message":"m","type":"weird_type","param":"x","code":null}}"#,
        )
        .unwrap();
        let e = ApiError::from_upstream_body(503, odd.clone(), "p");
        assert_eq!(e.kind, ErrorKind::Other("weird_type".into()));
        assert_eq!(
            e.body(),
            odd,
            "upstream 5xx messages are the provider's, passed through"
        );
    }

    #[test]
    fn statuses_and_retry_flags() {
        assert_eq!(ApiError::payload_too_large("x", Some("image")).status, 413);
        assert_eq!(ApiError::unsupported_media_type("x").status, 415);
        assert_eq!(
            ApiError::method_not_allowed("GET", "/v1/images/edits").status,
            405
        );
        assert_eq!(ApiError::not_found("x").status, 404);
        let rl = ApiError::rate_limited("busy", Some(Duration::from_secs(2)));
        assert_eq!((rl.status, rl.retryable), (429, true));
        assert_eq!(rl.retry_after, Some(Duration::from_secs(2)));
        assert_eq!(rl.body().error.r#type, "requests");
        assert_eq!(ApiError::unavailable("x", None).status, 503);
        let gt = ApiError::gateway_timeout("openai");
        assert_eq!((gt.status, gt.source), (504, ErrorSource::Upstream));
        assert_eq!(ApiError::request_timeout().status, 408);
        let bg = ApiError::bad_gateway("stability", "html body");
        assert_eq!(bg.status, 502);
        assert!(!bg.message.contains("html"));
        assert!(!ApiError::invalid_request("x", None).retryable);
        assert_eq!(
            ApiError::unauthorized("x").body().error.r#type,
            "invalid_request_error"
        );
    }
}
