//! `POST /v1/images/edits`: extract the body, read the Portkey headers, route, render.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse as _, Response};
use http::HeaderMap;
use retouch_api::ApiError;
use tokio_util::sync::CancellationToken;

use crate::error::ErrorResponse;
use crate::extract::EditBody;
use crate::portkey;
use crate::render::{self, LinkBase};
use crate::state::AppState;
use crate::usage::UsageFacts;

pub(crate) async fn edit(
    State(state): State<AppState>,
    headers: HeaderMap,
    EditBody(request): EditBody,
) -> Response {
    let cancel = CancellationToken::new();
    let asked_model = request.model.clone().unwrap_or_default();
    let routing = match portkey::routing(&state, &headers, Arc::new(request), cancel.clone()).await
    {
        Ok(routing) => routing,
        Err(error) => {
            let mut response = ErrorResponse(error).into_response();
            portkey::response_headers(response.headers_mut(), None, &portkey::trace_id(&headers));
            response.extensions_mut().insert(UsageFacts {
                model: asked_model,
                ..UsageFacts::default()
            });
            return response;
        }
    };
    let trace_id = routing.trace_id;
    let links = LinkBase::from_request(&state, &headers);
    // Whatever ends this request early (client gone, handler dropped) stops the work too.
    let guard = cancel.drop_guard();
    let routed = tokio::select! {
        routed = state.gateway().route(routing.route) => routed,
        () = state.shutdown().expired() => {
            let mut response = ErrorResponse(shutting_down()).into_response();
            portkey::response_headers(response.headers_mut(), None, &trace_id);
            return response;
        }
    };
    let (result, report, n) = match routed {
        Ok(routed) => {
            let report = routed.report.clone();
            let n = routed.edit.n;
            (
                render::routed(&state, routed, &links, guard).await,
                Some(report),
                n,
            )
        }
        Err(failure) => (Err(failure.error), failure.report, 0),
    };
    let (mut response, n) = match result {
        Ok(response) => (response, n),
        Err(error) => (ErrorResponse(error).into_response(), 0),
    };
    portkey::response_headers(response.headers_mut(), report.as_ref(), &trace_id);
    response.extensions_mut().insert(UsageFacts {
        provider: report
            .as_ref()
            .map(|r| r.provider.as_str().to_owned())
            .unwrap_or_default(),
        model: report.map_or(asked_model, |r| r.model),
        n,
    });
    response
}

/// The answer for requests still running when the shutdown drain ends.
pub(crate) fn shutting_down() -> ApiError {
    ApiError::unavailable(
        "The server is shutting down and could not finish this edit. Retry the request.",
        None,
    )
    .with_retryable(true)
}
