//! Liveness and discovery: `/health` and `/v1/models`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use crate::state::AppState;

/// `GET /health`: 200 while serving, 503 once shutdown has begun (so load balancers drain us).
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    if state.shutdown().has_begun() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    Json(json!({"status": "ok"})).into_response()
}

/// `GET /v1/models`: the models (routes) this caller may use, in OpenAI's list shape.
pub(crate) async fn models(State(state): State<AppState>) -> Response {
    let engine = state.gateway().local().config();
    Json(json!({
        "object": "list",
        "data": [{
            "id": "retouch-fill",
            "object": "model",
            "created": 0,
            "owned_by": "retouch",
            "retouch": {
                "provider": "local",
                "stream": true,
                "mask": true,
                "max_pixels": engine.max_pixels,
                "description": "Content-aware fill: fills the masked (transparent) area from the \
                    rest of the image. It does not paint what the prompt describes.",
            },
        }],
    }))
    .into_response()
}
