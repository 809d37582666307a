//! `GET /images/{file}`: hosted results behind signed, expiring links.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use retouch_api::ApiError;
use retouch_store::{LinkError, StoreError};
use serde::Deserialize;

use crate::error::ErrorResponse;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct LinkQuery {
    expires: Option<String>,
    signature: Option<String>,
}

#[expect(
    clippy::wildcard_enum_match_arm,
    reason = "StoreError is non-exhaustive"
)]
pub(crate) async fn get_image(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<LinkQuery>,
) -> Result<Response, ErrorResponse> {
    let (Some(expires), Some(signature)) = (query.expires, query.signature) else {
        return Err(forbidden(
            "This image link is missing its signature. Use the full URL returned by the API.",
        )
        .into());
    };
    let key = state
        .store()
        .verify(&file, &expires, &signature, SystemTime::now())
        .map_err(link_error)?;
    let image = state.store().get(&key).await.map_err(|error| match error {
        StoreError::NotFound { .. } => not_found(),
        other => ApiError::internal(format!("reading hosted image: {other}")),
    })?;
    let mut response = Body::from_stream(image.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(image.content_type),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(image.size));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600, immutable"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

fn forbidden(message: &str) -> ApiError {
    ApiError::invalid_request(message, None).with_status(403)
}

fn not_found() -> ApiError {
    ApiError::invalid_request("This image does not exist or has expired.", None).with_status(404)
}

fn link_error(error: LinkError) -> ApiError {
    match error {
        LinkError::Malformed => not_found(),
        LinkError::BadSignature => forbidden(
            "This image link's signature is not valid. Use the exact URL returned by the API.",
        ),
        LinkError::Expired => forbidden(
            "This image link has expired. Links are valid for a limited time after the edit; run the edit again for a new one.",
        ),
    }
}
