//! AUTOMATIC1111 / Forge `POST /sdapi/v1/img2img`: JSON in, `{images[], parameters, info}` out,
//! FastAPI-style errors (`{"detail": …}` or `{"error","detail","body","errors"}`).

use axum::http::Method;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{RecordedRequest, Reply, Shared, json_response, malformed_json, retry_after};
use crate::fixtures::{png_with, result_png};

pub(super) async fn handle(shared: &Shared, request: &RecordedRequest) -> Response {
    if request.method != Method::POST || request.path != "/sdapi/v1/img2img" {
        return json_response(404, &json!({ "detail": "Not Found" }), &[]);
    }
    if let Some(expected) = &shared.api_key {
        let expected = format!("Basic {}", STANDARD.encode(expected));
        if request.header("authorization") != Some(expected.as_str()) {
            let sent = request.header("authorization").unwrap_or_default();
            return json_response(
                401,
                &json!({ "detail": format!("Incorrect username or password ({sent})") }),
                &[("www-authenticate", "Basic".to_owned())],
            );
        }
    }
    match shared.next_reply() {
        Reply::Succeed | Reply::TextOnly | Reply::ContentFiltered => {
            succeed(shared, request, false)
        }
        Reply::SucceedWithGrid => succeed(shared, request, true),
        Reply::ClientError { status, message } => json_response(
            status,
            &json!({ "error": "HTTPException", "detail": message, "body": "", "errors": "" }),
            &[],
        ),
        Reply::ServerError => json_response(
            500,
            &json!({ "error": "OutOfMemoryError", "detail": "", "body": "", "errors": "CUDA out of memory." }),
            &[],
        ),
        Reply::RateLimited { retry_after_secs } => json_response(
            429,
            &json!({ "detail": "Too Many Requests" }),
            &retry_after(retry_after_secs),
        ),
        Reply::Hang => shared.hang().await,
        Reply::Malformed => malformed_json(),
    }
}

fn missing(field: &str) -> Response {
    json_response(
        422,
        &json!({ "detail": [{ "loc": ["body", field], "msg": "field required", "type": "value_error.missing" }] }),
        &[],
    )
}

fn decodes(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let payload = text.split_once(";base64,").map_or(text, |(_, data)| data);
    STANDARD
        .decode(payload)
        .is_ok_and(|bytes| image::load_from_memory(&bytes).is_ok())
}

fn succeed(shared: &Shared, request: &RecordedRequest, force_grid: bool) -> Response {
    let Some(body) = &request.json else {
        return json_response(
            422,
            &json!({ "detail": [{ "loc": ["body"], "msg": "value is not a valid dict" }] }),
            &[],
        );
    };
    let Some(init) = body
        .get("init_images")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        return missing("init_images");
    };
    if !init.iter().all(decodes) {
        return json_response(
            500,
            &json!({ "error": "UnidentifiedImageError", "detail": "", "body": "", "errors": "cannot identify image file" }),
            &[],
        );
    }
    if let Some(mask) = body.get("mask").filter(|m| !m.is_null())
        && !decodes(mask)
    {
        return json_response(
            500,
            &json!({ "error": "UnidentifiedImageError", "detail": "", "body": "", "errors": "cannot identify image file (mask)" }),
            &[],
        );
    }
    let count_of = |name: &str| body.get(name).and_then(Value::as_u64).unwrap_or(1);
    let count = count_of("batch_size") * count_of("n_iter");
    let grid_off = body.pointer("/override_settings/return_grid") == Some(&Value::Bool(false));
    let mut images = Vec::new();
    if force_grid || (count > 1 && !grid_off) {
        images.push(STANDARD.encode(png_with(8, 8, |_, _| [255, 255, 255, 255])));
    }
    let mut seeds = Vec::new();
    for _ in 0..count {
        let seed = shared.next_sequence();
        seeds.push(seed);
        images.push(STANDARD.encode(result_png(seed)));
    }
    let info = json!({ "all_seeds": seeds }).to_string();
    json_response(
        200,
        &json!({ "images": images, "parameters": body, "info": info }),
        &[],
    )
}
