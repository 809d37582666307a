//! Cross-cutting request handling: request ids, access logs, and OpenAI-shaped answers for
//! unknown routes and methods.
//!
//! The access log records method, path, status, duration and request id, never headers or
//! query strings, so credentials and link signatures cannot reach the logs.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, Uri};
use retouch_api::ApiError;
use tracing::Instrument;

use crate::error::ErrorResponse;
use crate::state::AppState;

/// The request's `x-request-id`, as a request extension for the layers and handlers inside
/// (usage records carry it).
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// Assigns a request id, logs the request when it completes, and stamps the headers every
/// response carries.
pub(crate) async fn request_context(
    State(_state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
    request.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // Every log line written while serving carries the id the client sees.
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span).await;
    let elapsed = started.elapsed();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", value);
    }
    headers.insert("openai-version", HeaderValue::from_static("2020-10-01"));
    headers.insert(
        "openai-processing-ms",
        HeaderValue::from(elapsed.as_millis() as u64),
    );
    tracing::info!(
        request_id = %id,
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        ms = elapsed.as_millis() as u64,
        "request"
    );
    response
}

/// Unknown paths.
pub(crate) async fn not_found(method: Method, uri: Uri) -> Response {
    ErrorResponse(
        ApiError::invalid_request(
            format!(
                "Invalid URL ({method} {}). See the API reference for the routes served.",
                uri.path()
            ),
            None,
        )
        .with_status(404),
    )
    .into_response()
}

/// Known paths with the wrong method.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ErrorResponse(
        ApiError::invalid_request(
            format!("Method {method} is not allowed on {}.", uri.path()),
            None,
        )
        .with_status(405),
    )
    .into_response()
}
