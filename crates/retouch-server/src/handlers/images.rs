//! `POST /v1/images/edits`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::HeaderMap;
use retouch_api::ApiError;
use retouch_api::rules::ModelRules;
use retouch_gateway::EditCall;
use tokio_util::sync::CancellationToken;

use crate::error::ErrorResponse;
use crate::extract::EditBody;
use crate::render::{self, LinkBase};
use crate::state::AppState;

/// The model name the local engine reports.
const LOCAL_MODEL: &str = "retouch-fill";

pub(crate) async fn edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    EditBody(request): EditBody,
) -> Result<Response, ErrorResponse> {
    let rules = ModelRules::RetouchFill {
        max_pixels: state.gateway().local().config().max_pixels,
    };
    let edit = rules.validate(&request)?;
    let cancel = CancellationToken::new();
    let request = Arc::new(request);
    let call = EditCall {
        request: Arc::clone(&request),
        edit: edit.clone(),
        model: LOCAL_MODEL.to_owned(),
        cancel: cancel.clone(),
    };
    let links = LinkBase::from_request(&state, &headers);
    // Whatever ends this request early (client gone, handler dropped) stops the work too.
    let guard = cancel.drop_guard();
    if edit.stream {
        return Ok(render::stream(&state, call, guard).await?);
    }
    let output = tokio::select! {
        output = state.gateway().edit(call) => output?,
        () = state.shutdown().expired() => return Err(shutting_down().into()),
    };
    drop(guard);
    Ok(render::images_response(&state, &request, &edit, output, &links).await?)
}

/// The answer for requests still running when the shutdown drain ends.
pub(crate) fn shutting_down() -> ApiError {
    ApiError::unavailable(
        "The server is shutting down and could not finish this edit. Retry the request.",
        None,
    )
    .with_retryable(true)
}
