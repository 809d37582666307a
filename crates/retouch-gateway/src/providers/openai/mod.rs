//! `openai`: `POST {base}/images/edits` (base `https://api.openai.com/v1`), Bearer auth.
//!
//! The request is forwarded, not translated: original file bytes, filenames and part types;
//! `image[]` when there are several images; every known field as sent plus unknown fields.
//! `stream=true` answers are passed through as [`ProviderOutput::Stream`]. The shared
//! [`send`] also serves Azure OpenAI and OpenAI-compatible servers, which differ only in URL and
//! auth header.

pub(crate) mod wire;

use futures_util::StreamExt as _;
use reqwest::{Method, header};
use retouch_api::ApiError;
use url::Url;

use super::error::{malformed, upstream_status};
use super::{Call, ProviderOutput, ProviderStream};
use crate::http::{request_id, transport_error};

/// How the credential is sent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `api-key: <key>` (Azure).
    ApiKey,
}

pub(crate) async fn edit(call: &Call<'_>) -> Result<ProviderOutput, ApiError> {
    let url = call.endpoint("images/edits")?;
    send(call, url, Auth::Bearer, call.model()).await
}

/// Sends the form to `url` and reads an `ImagesResponse` or passes an SSE stream through.
pub(crate) async fn send(
    call: &Call<'_>,
    url: Url,
    auth: Auth,
    model: Option<&str>,
) -> Result<ProviderOutput, ApiError> {
    let provider = call.slug();
    let form = wire::form(call.request, model, &call.target.override_params)?;
    let mut request = call
        .client
        .request(provider, Method::POST, &url)?
        .header(header::ACCEPT, "application/json")
        .multipart(form);
    request = call.target.apply_forward_headers(request);
    if let Some(key) = &call.target.api_key {
        request = match auth {
            Auth::Bearer => request.bearer_auth(key.expose()),
            Auth::ApiKey => request.header("api-key", key.expose()),
        };
    }
    let streaming = call.request.stream == Some(true) || call.edit.stream;
    if streaming {
        let response = call
            .client
            .send_streaming(provider, request, call.target.timeout)
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let is_sse = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if status.is_success() && is_sse {
            let owned_provider = provider.to_owned();
            let body = response
                .bytes_stream()
                .map(move |chunk| chunk.map_err(|e| transport_error(&owned_provider, &e)));
            return Ok(ProviderOutput::Stream(ProviderStream {
                content_type: "text/event-stream".to_owned(),
                upstream_request_id: request_id(&headers),
                body: Box::pin(body),
            }));
        }
        let body = call.client.read_body(provider, response).await?;
        return finish(call, status.as_u16(), &headers, &body);
    }
    let response = call
        .client
        .send(provider, request, call.target.timeout)
        .await?;
    finish(
        call,
        response.status.as_u16(),
        &response.headers,
        &response.body,
    )
}

fn finish(
    call: &Call<'_>,
    status: u16,
    headers: &header::HeaderMap,
    body: &[u8],
) -> Result<ProviderOutput, ApiError> {
    if !(200..300).contains(&status) {
        return Err(upstream_status(call, status, headers, body));
    }
    let parsed: wire::ImagesResponse = serde_json::from_slice(body)
        .map_err(|e| malformed(call, format!("ImagesResponse is not valid JSON: {e}")))?;
    let mut images = parsed.into_images().map_err(|e| malformed(call, e))?;
    images.upstream_request_id = request_id(headers);
    Ok(ProviderOutput::Images(images))
}
