//! IOPaint `POST /api/v1/inpaint`: JSON with base64 `image` and `mask` in, raw image bytes out
//! (header `X-Seed`), FastAPI errors `{"detail": …}`. IOPaint itself has no auth; the mock checks
//! a Bearer token as a reverse proxy in front of it would.

use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{RecordedRequest, Reply, Shared, json_response, retry_after};
use crate::fixtures::png_with;

pub(super) async fn handle(shared: &Shared, request: &RecordedRequest) -> Response {
    if request.method != Method::POST || request.path != "/api/v1/inpaint" {
        return json_response(404, &json!({ "detail": "Not Found" }), &[]);
    }
    if let Some(expected) = &shared.api_key {
        let sent = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        if sent != Some(expected.as_str()) {
            return json_response(
                401,
                &json!({ "detail": format!("invalid token {}", sent.unwrap_or("")) }),
                &[],
            );
        }
    }
    match shared.next_reply() {
        Reply::Succeed | Reply::SucceedWithGrid | Reply::TextOnly | Reply::ContentFiltered => {
            succeed(shared, request)
        }
        Reply::ClientError { status, message } => {
            json_response(status, &json!({ "detail": message }), &[])
        }
        Reply::ServerError => {
            json_response(500, &json!({ "detail": "Internal Server Error" }), &[])
        }
        Reply::RateLimited { retry_after_secs } => json_response(
            429,
            &json!({ "detail": "Too Many Requests" }),
            &retry_after(retry_after_secs),
        ),
        Reply::Hang => shared.hang().await,
        Reply::Malformed => (
            [(header::CONTENT_TYPE, "image/png")],
            "<html>proxy error</html>",
        )
            .into_response(),
    }
}

fn decode_field(body: &Value, name: &str) -> Result<image::RgbaImage, Box<Response>> {
    let Some(text) = body.get(name).and_then(Value::as_str) else {
        return Err(Box::new(json_response(
            422,
            &json!({ "detail": [{ "loc": ["body", name], "msg": "Field required", "type": "missing" }] }),
            &[],
        )));
    };
    let payload = text.split_once(";base64,").map_or(text, |(_, data)| data);
    STANDARD
        .decode(payload)
        .ok()
        .and_then(|bytes| image::load_from_memory(&bytes).ok())
        .map(|img| img.to_rgba8())
        .ok_or_else(|| {
            Box::new(json_response(
                400,
                &json!({ "detail": format!("{name}: cannot identify image file") }),
                &[],
            ))
        })
}

fn succeed(shared: &Shared, request: &RecordedRequest) -> Response {
    let Some(body) = &request.json else {
        return json_response(422, &json!({ "detail": "body must be JSON" }), &[]);
    };
    let image = match decode_field(body, "image") {
        Ok(image) => image,
        Err(response) => return *response,
    };
    let mask = match decode_field(body, "mask") {
        Ok(mask) => mask,
        Err(response) => return *response,
    };
    if image.dimensions() != mask.dimensions() {
        let message = format!(
            "Image size({}x{}) and mask size({}x{}) not match.",
            image.width(),
            image.height(),
            mask.width(),
            mask.height()
        );
        return json_response(400, &json!({ "detail": message }), &[]);
    }
    let seed = body.get("sd_seed").and_then(Value::as_i64).unwrap_or(42);
    let sequence = shared.next_sequence();
    // Same size as the input, like IOPaint; the colour encodes the call's sequence number.
    let red = ((sequence * 16) % 256) as u8;
    let png = png_with(image.width(), image.height(), |_, _| [red, 0x80, 0x40, 255]);
    (
        [
            (header::CONTENT_TYPE, "image/png".to_owned()),
            (header::HeaderName::from_static("x-seed"), seed.to_string()),
        ],
        png,
    )
        .into_response()
}
