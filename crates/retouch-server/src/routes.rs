//! The route table, and nothing else: paths map to handlers here; behaviour lives in
//! `handlers/`, cross-cutting concerns in `middleware`.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::handlers::{files, images, meta};
use crate::state::AppState;
use crate::{middleware, playground};

/// Builds the whole application for `state`.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/images/edits", post(images::edit))
        .route("/v1/models", get(meta::models))
        .route("/images/{file}", get(files::get_image))
        .route("/health", get(meta::health))
        // Our extractor enforces its own limits while streaming; axum's default 2 MB cap
        // would cut legitimate uploads short with a non-OpenAI body.
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .merge(api)
        .merge(playground::router())
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::request_context,
        ))
        .with_state(state)
}
