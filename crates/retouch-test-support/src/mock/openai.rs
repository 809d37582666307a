//! OpenAI and Azure OpenAI `images/edits`: multipart in, `ImagesResponse` JSON (or SSE) out,
//! errors as `{"error":{message,type,param,code}}`.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{MockKind, RecordedRequest, Reply, Shared, json_response, malformed_json, retry_after};
use crate::fixtures::result_png;

const ACCEPTED_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/webp"];

pub(super) async fn handle(shared: &Shared, request: &RecordedRequest) -> Response {
    let azure = shared.kind == MockKind::AzureOpenAi;
    if request.method != Method::POST || !path_matches(azure, request) {
        return error(
            404,
            "Resource not found",
            "invalid_request_error",
            None,
            Some("404"),
        );
    }
    if let Some(expected) = &shared.api_key {
        let bearer = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        let sent = if azure {
            request.header("api-key").or(bearer)
        } else {
            bearer
        };
        if sent != Some(expected.as_str()) {
            // Like some resellers, echo the credential back, so callers must redact it.
            let message = format!(
                "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                sent.unwrap_or("<none>")
            );
            return error(
                401,
                &message,
                "invalid_request_error",
                None,
                Some("invalid_api_key"),
            );
        }
    }
    match shared.next_reply() {
        Reply::Succeed | Reply::SucceedWithGrid | Reply::TextOnly => succeed(shared, request),
        Reply::ClientError { status, message } => {
            error(status, &message, "invalid_request_error", None, None)
        }
        Reply::ServerError => error(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
            None,
        ),
        Reply::RateLimited { retry_after_secs } => {
            let body = error_body(
                "Rate limit reached for images per minute.",
                "requests",
                None,
                Some("rate_limit_exceeded"),
            );
            json_response(429, &body, &retry_after(retry_after_secs))
        }
        Reply::Hang => shared.hang().await,
        Reply::Malformed => malformed_json(),
        Reply::ContentFiltered => error(
            400,
            "Your request was rejected by the safety system.",
            "image_generation_user_error",
            None,
            Some("moderation_blocked"),
        ),
    }
}

fn path_matches(azure: bool, request: &RecordedRequest) -> bool {
    if !azure {
        return request.path == "/v1/images/edits";
    }
    if request.path == "/openai/v1/images/edits" {
        return true;
    }
    let deployment = request
        .path
        .strip_prefix("/openai/deployments/")
        .and_then(|rest| rest.strip_suffix("/images/edits"));
    matches!(deployment, Some(d) if !d.is_empty() && !d.contains('/'))
        && request
            .query_param("api-version")
            .is_some_and(|v| !v.is_empty())
}

fn succeed(shared: &Shared, request: &RecordedRequest) -> Response {
    if let Some(problem) = validate(request) {
        return problem;
    }
    let n: u64 = request.field("n").and_then(|n| n.parse().ok()).unwrap_or(1);
    let want_url = request.field("response_format").as_deref() == Some("url");
    let stream = request.field("stream").as_deref() == Some("true");
    let id = shared.next_sequence();
    let request_id = format!("req_mock_{id}");
    let mut images = Vec::new();
    for _ in 0..n {
        images.push(result_png(shared.next_sequence()));
    }
    if stream {
        return sse(&images, &request_id);
    }
    let data: Vec<Value> = images
        .into_iter()
        .enumerate()
        .map(|(i, png)| {
            if want_url {
                json!({ "url": shared.host_file(format!("{id}-{i}.png"), png.into()) })
            } else {
                json!({ "b64_json": STANDARD.encode(png) })
            }
        })
        .collect();
    let body = json!({
        "created": 1_763_900_000u64,
        "data": data,
        "background": "opaque",
        "output_format": "png",
        "quality": "low",
        "size": "1024x1024",
        "usage": {
            "input_tokens": 50, "output_tokens": 100, "total_tokens": 150,
            "input_tokens_details": { "image_tokens": 40, "text_tokens": 10 }
        }
    });
    json_response(200, &body, &[("x-request-id", request_id)])
}

/// The checks OpenAI makes before it edits anything, with its own messages.
fn validate(request: &RecordedRequest) -> Option<Response> {
    if let Some(problem) = &request.multipart_error {
        return Some(error(
            400,
            &format!("Invalid multipart body: {problem}"),
            "invalid_request_error",
            None,
            None,
        ));
    }
    if request.parts.is_empty() {
        return Some(error(
            400,
            "Invalid Content-Type header (application/json), expected multipart/form-data.",
            "invalid_request_error",
            None,
            None,
        ));
    }
    let images: Vec<_> = request
        .parts
        .iter()
        .filter(|p| p.name == "image" || p.name == "image[]")
        .collect();
    if images.is_empty() {
        return Some(error(
            400,
            "Missing required parameter: 'image'.",
            "invalid_request_error",
            Some("image"),
            None,
        ));
    }
    for (i, part) in images.iter().enumerate() {
        let mime = part
            .content_type
            .as_deref()
            .unwrap_or("application/octet-stream");
        if part.filename.is_none() || !ACCEPTED_TYPES.contains(&mime) {
            let name = if images.len() > 1 {
                format!("image[{i}]")
            } else {
                "image".to_owned()
            };
            let message = format!(
                "Invalid file '{name}': unsupported mimetype ('{mime}'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'."
            );
            return Some(error(
                400,
                &message,
                "invalid_request_error",
                Some(&name),
                Some("unsupported_file_mimetype"),
            ));
        }
    }
    if let Some(mask) = request.part("mask")
        && mask.content_type.as_deref() != Some("image/png")
    {
        return Some(error(
            400,
            "Invalid file 'mask': must be a PNG.",
            "invalid_request_error",
            Some("mask"),
            None,
        ));
    }
    if request.field("prompt").is_none_or(|p| p.is_empty()) {
        return Some(error(
            400,
            "Missing required parameter: 'prompt'.",
            "invalid_request_error",
            Some("prompt"),
            None,
        ));
    }
    if let Some(n) = request.field("n")
        && !n.parse::<u32>().is_ok_and(|n| (1..=10).contains(&n))
    {
        return Some(error(
            400,
            &format!("Invalid 'n': {n}."),
            "invalid_request_error",
            Some("n"),
            None,
        ));
    }
    None
}

fn sse(images: &[Vec<u8>], request_id: &str) -> Response {
    let mut text = String::new();
    let partial = json!({
        "type": "image_edit.partial_image", "b64_json": STANDARD.encode(result_png(15)),
        "partial_image_index": 0, "created_at": 1_763_900_000u64,
        "size": "1024x1024", "quality": "low", "background": "opaque", "output_format": "png"
    });
    text.push_str(&format!(
        "event: image_edit.partial_image\ndata: {partial}\n\n"
    ));
    for png in images {
        let done = json!({
            "type": "image_edit.completed", "b64_json": STANDARD.encode(png),
            "created_at": 1_763_900_000u64, "size": "1024x1024", "quality": "low",
            "background": "opaque", "output_format": "png",
            "usage": { "input_tokens": 50, "output_tokens": 100, "total_tokens": 150 }
        });
        text.push_str(&format!("event: image_edit.completed\ndata: {done}\n\n"));
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header("x-request-id", request_id)
        .body(Body::from(text))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn error_body(message: &str, kind: &str, param: Option<&str>, code: Option<&str>) -> Value {
    json!({ "error": { "message": message, "type": kind, "param": param, "code": code } })
}

fn error(
    status: u16,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    json_response(
        status,
        &error_body(message, kind, param, code),
        &[("x-request-id", "req_mock_error".to_owned())],
    )
}
