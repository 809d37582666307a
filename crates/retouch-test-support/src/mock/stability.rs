//! Stability AI v2beta `stable-image/edit/{inpaint,erase}`: multipart in, JSON
//! `{image, finish_reason, seed}` (or raw bytes for `accept: image/*`) out, errors as
//! `{id, name, errors[]}`.

use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::{RecordedRequest, Reply, Shared, json_response, malformed_json, retry_after};
use crate::fixtures::result_png;

pub(super) async fn handle(shared: &Shared, request: &RecordedRequest) -> Response {
    let erase = match request.path.as_str() {
        "/v2beta/stable-image/edit/inpaint" => false,
        "/v2beta/stable-image/edit/erase" => true,
        _ => {
            return error(
                404,
                "not_found",
                &format!("{} is not a valid route", request.path),
            );
        }
    };
    if request.method != Method::POST {
        return error(404, "not_found", "method not allowed");
    }
    if let Some(expected) = &shared.api_key {
        let sent = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        if sent != Some(expected.as_str()) {
            let message = format!("authorization: invalid API key '{}'", sent.unwrap_or(""));
            return error(401, "unauthorized", &message);
        }
    }
    match shared.next_reply() {
        Reply::Succeed | Reply::SucceedWithGrid | Reply::TextOnly => {
            succeed(shared, request, erase, "SUCCESS")
        }
        Reply::ContentFiltered => succeed(shared, request, erase, "CONTENT_FILTERED"),
        Reply::ClientError { status, message } => error(status, "bad_request", &message),
        Reply::ServerError => error(
            500,
            "internal_error",
            "An unexpected server error occurred, please try again.",
        ),
        Reply::RateLimited { retry_after_secs } => {
            let body = error_body(
                "rate_limit_exceeded",
                "You have exceeded the rate limit of 150 requests within a 10 second period.",
            );
            json_response(429, &body, &retry_after(retry_after_secs))
        }
        Reply::Hang => shared.hang().await,
        Reply::Malformed => malformed_json(),
    }
}

fn succeed(
    shared: &Shared,
    request: &RecordedRequest,
    erase: bool,
    finish_reason: &str,
) -> Response {
    if let Some(problem) = &request.multipart_error {
        return error(400, "bad_request", &format!("multipart: {problem}"));
    }
    if request.parts.is_empty() {
        return error(
            400,
            "bad_request",
            "content-type: must be multipart/form-data",
        );
    }
    let accept = request.header("accept").unwrap_or_default().to_owned();
    if accept != "application/json" && !accept.starts_with("image/") {
        return error(
            400,
            "bad_request",
            "accept: must be image/* or application/json",
        );
    }
    match request.part("image") {
        Some(part) if part.filename.is_some() && image::load_from_memory(&part.data).is_ok() => {}
        Some(_) => return error(400, "bad_request", "image: could not be decoded"),
        None => return error(400, "bad_request", "image: is required"),
    }
    if let Some(mask) = request.part("mask")
        && image::load_from_memory(&mask.data).is_err()
    {
        return error(400, "bad_request", "mask: could not be decoded");
    }
    if !erase && request.field("prompt").is_none_or(|p| p.trim().is_empty()) {
        return error(400, "bad_request", "prompt: cannot be empty");
    }
    if let Some(format) = request.field("output_format")
        && !["png", "jpeg", "webp"].contains(&format.as_str())
    {
        return error(
            400,
            "bad_request",
            "output_format: must be one of png, jpeg, webp",
        );
    }
    let seed = shared.next_sequence();
    let png = result_png(seed);
    if accept.starts_with("image/") {
        return (
            [
                (header::CONTENT_TYPE, "image/png".to_owned()),
                (
                    header::HeaderName::from_static("finish-reason"),
                    finish_reason.to_owned(),
                ),
            ],
            png,
        )
            .into_response();
    }
    let body =
        json!({ "image": STANDARD.encode(png), "finish_reason": finish_reason, "seed": seed });
    json_response(200, &body, &[])
}

fn error_body(name: &str, message: &str) -> serde_json::Value {
    json!({ "id": "0123456789abcdef0123456789abcdef", "name": name, "errors": [message] })
}

fn error(status: u16, name: &str, message: &str) -> Response {
    json_response(status, &error_body(name, message), &[])
}
