//! The route table, and nothing else: paths map to handlers here; behaviour lives in
//! `handlers/`, cross-cutting concerns in `middleware`.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::handlers::{files, images, meta};
use crate::state::AppState;
use crate::{auth, middleware, playground, ratelimit, usage};

/// Builds the whole application for `state`.
pub fn app(state: AppState) -> Router {
    // `/v1/*` needs a gateway key once keys exist. Layers run outermost-last: auth first, so
    // the layers and handlers inside can read its `Caller`; then the rate limit, so a refused
    // request costs neither its upload nor a usage record.
    let v1 = Router::new()
        .route(
            "/v1/images/edits",
            post(images::edit)
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    usage::record,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    ratelimit::limit,
                )),
        )
        .route("/v1/models", get(meta::models))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    let api = Router::new()
        .merge(v1)
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
