//! Rendering [`ApiError`] as an HTTP response in OpenAI's error shape.
//!
//! Every failure a client can see goes through here, so every one of them has the body
//! `{"error":{"message","type","param","code"}}`. Internal details of 5xx errors are logged,
//! never sent.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use retouch_api::{ApiError, ErrorSource};

/// An [`ApiError`] on its way to the client.
#[derive(Debug)]
pub struct ErrorResponse(pub ApiError);

impl From<ApiError> for ErrorResponse {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let error = self.0;
        let status =
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let detail = error.detail.as_deref().unwrap_or("");
        match error.source {
            ErrorSource::Internal => {
                tracing::error!(status = status.as_u16(), detail, "internal error")
            }
            ErrorSource::Upstream => tracing::warn!(
                status = status.as_u16(),
                provider = error.provider.as_deref().unwrap_or(""),
                detail,
                "upstream error"
            ),
            ErrorSource::Client => {}
        }
        let mut response = (status, error.to_json()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(after) = error.retry_after {
            // Rounded up: a client that waits the advertised seconds must not be early.
            let secs = (after.as_secs() + u64::from(after.subsec_nanos() > 0)).max(1);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            headers.insert(
                "retry-after-ms",
                HeaderValue::from(after.as_millis().max(1) as u64),
            );
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            let retry = if error.retryable { "true" } else { "false" };
            headers.insert("x-should-retry", HeaderValue::from_static(retry));
        }
        if let Some(provider) = error
            .provider
            .as_deref()
            .and_then(|p| HeaderValue::from_str(p).ok())
        {
            headers.insert("x-portkey-provider", provider);
        }
        response
    }
}
