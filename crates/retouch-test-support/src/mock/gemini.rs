//! Gemini `POST /v1beta/models/{model}:generateContent`: JSON with inline images in,
//! `candidates[].content.parts[]` out, errors as `{"error":{code,message,status}}`.

use axum::http::Method;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{RecordedRequest, Reply, Shared, json_response, malformed_json, retry_after};
use crate::fixtures::result_png;

pub(super) async fn handle(shared: &Shared, request: &RecordedRequest) -> Response {
    let model = request
        .path
        .strip_prefix("/v1beta/models/")
        .and_then(|rest| rest.strip_suffix(":generateContent"));
    if request.method != Method::POST || model.is_none_or(str::is_empty) {
        return error(
            404,
            "NOT_FOUND",
            &format!("Requested entity was not found: {}", request.path),
        );
    }
    if let Some(expected) = &shared.api_key
        && request.header("x-goog-api-key") != Some(expected.as_str())
    {
        let body = json!({ "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com" }]
        }});
        return json_response(400, &body, &[]);
    }
    match shared.next_reply() {
        Reply::Succeed | Reply::SucceedWithGrid => succeed(shared, request, true),
        Reply::TextOnly => succeed(shared, request, false),
        Reply::ContentFiltered => json_response(
            200,
            &json!({ "promptFeedback": { "blockReason": "PROHIBITED_CONTENT" } }),
            &[],
        ),
        Reply::ClientError { status, message } => error(status, "INVALID_ARGUMENT", &message),
        Reply::ServerError => error(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        ),
        Reply::RateLimited { retry_after_secs } => {
            let body = json!({ "error": { "code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED" } });
            json_response(429, &body, &retry_after(retry_after_secs))
        }
        Reply::Hang => shared.hang().await,
        Reply::Malformed => malformed_json(),
    }
}

fn succeed(shared: &Shared, request: &RecordedRequest, with_image: bool) -> Response {
    let Some(body) = &request.json else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    let parts = body
        .pointer("/contents/0/parts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if parts.is_empty() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "* GenerateContentRequest.contents: contents is not specified",
        );
    }
    for part in &parts {
        if let Some(inline) = part.get("inline_data").or_else(|| part.get("inlineData")) {
            let mime = inline
                .get("mime_type")
                .or_else(|| inline.get("mimeType"))
                .and_then(Value::as_str);
            let data = inline
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let decoded = STANDARD
                .decode(data)
                .ok()
                .filter(|b| image::load_from_memory(b).is_ok());
            if mime.is_none() || decoded.is_none() {
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    "Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
                );
            }
        }
    }
    let wants_image = body
        .pointer("/generationConfig/responseModalities")
        .and_then(Value::as_array)
        .is_some_and(|m| m.iter().any(|v| v.as_str() == Some("IMAGE")));
    let mut out = vec![json!({ "text": "Here is the edited image." })];
    if with_image && wants_image {
        let png = result_png(shared.next_sequence());
        out.push(
            json!({ "inlineData": { "mimeType": "image/png", "data": STANDARD.encode(png) } }),
        );
    }
    let response = json!({
        "candidates": [{ "content": { "parts": out, "role": "model" }, "finishReason": "STOP", "index": 0 }],
        "usageMetadata": { "promptTokenCount": 300, "candidatesTokenCount": 1290, "totalTokenCount": 1590 },
        "modelVersion": "gemini-2.5-flash-image"
    });
    json_response(200, &response, &[])
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({ "error": { "code": status, "message": message, "status": kind } }),
        &[],
    )
}
