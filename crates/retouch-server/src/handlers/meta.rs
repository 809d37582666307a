//! Liveness and discovery: `/health` and `/v1/models`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use retouch_gateway::Provider;
use retouch_gateway::config::ModelAlias;

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

/// `GET /v1/models`: the models (routes) this caller may use, in OpenAI's list shape: the local
/// engine, then every model alias the server configures (`[models]` in its TOML).
pub(crate) async fn models(State(state): State<AppState>) -> Response {
    let engine = state.gateway().local().config();
    let mut data = vec![json!({
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
    })];
    let settings = state.gateway().settings();
    for (alias, target) in &settings.models {
        let (provider, stream) = match target {
            ModelAlias::Target { provider, .. } => {
                let kind = settings
                    .providers
                    .get(provider)
                    .map(|entry| entry.provider)
                    .or_else(|| Provider::from_slug(provider));
                let stream = provider == "local" || kind.is_some_and(Provider::streams);
                (provider.clone(), stream)
            }
            ModelAlias::Config(id) => (format!("config:{id}"), false),
        };
        data.push(json!({
            "id": alias,
            "object": "model",
            "created": 0,
            "owned_by": provider,
            "retouch": { "provider": provider, "stream": stream, "mask": true },
        }));
    }
    Json(json!({ "object": "list", "data": data })).into_response()
}
