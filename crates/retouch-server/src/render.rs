//! Turning a finished (or running) edit into OpenAI's response: the `ImagesResponse` JSON with
//! `b64_json` or hosted `url`s, or the `text/event-stream` of partial and completed images.
//!
//! Provider results are normalised to what the caller asked for: URLs are downloaded (bounded,
//! SSRF-guarded, through the gateway's upstream client) for `b64_json`; bytes are re-hosted in
//! our store for `url`; an upstream SSE body is passed through chunk by chunk as it arrives.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use http::{HeaderMap, HeaderValue, header};
use retouch_api::wire::{ImageData, ImagesResponse, Usage};
use retouch_api::{ApiError, EditRequest, OutputFormat, ResponseFormat, ValidatedEdit};
use retouch_gateway::{
    EditEvent, EditOutput, EncodedImage, ProviderImage, ProviderImages, ProviderKind,
    ProviderOutput, ProviderStream, Routed, RoutedOutput,
};
use retouch_store::ImageExt;
use tokio::sync::mpsc;
use tokio_util::sync::DropGuard;

use crate::state::AppState;

/// Where hosted image links point: the configured public URL, else this request's host.
#[derive(Debug, Clone)]
pub(crate) struct LinkBase(String);

impl LinkBase {
    pub(crate) fn from_request(state: &AppState, headers: &HeaderMap) -> Self {
        if let Some(url) = state.public_url() {
            return Self(url.to_owned());
        }
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| is_plausible_host(h))
            .unwrap_or("127.0.0.1");
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .filter(|p| *p == "https")
            .unwrap_or("http");
        Self(format!("{scheme}://{host}"))
    }
}

/// A Host header we are willing to put into a link: host[:port], nothing that could inject a
/// path, query or credentials.
fn is_plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

fn store_ext(format: OutputFormat) -> ImageExt {
    match format {
        OutputFormat::Png => ImageExt::Png,
        OutputFormat::Jpeg => ImageExt::Jpeg,
        OutputFormat::Webp => ImageExt::Webp,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The JSON response for a finished edit.
pub(crate) async fn images_response(
    state: &AppState,
    request: &EditRequest,
    edit: &ValidatedEdit,
    output: EditOutput,
    links: &LinkBase,
) -> Result<Response, ApiError> {
    let mut data = Vec::with_capacity(output.images.len());
    for image in &output.images {
        let item = match edit.response_format {
            ResponseFormat::B64Json => ImageData {
                b64_json: Some(BASE64.encode(&image.bytes)),
                ..ImageData::default()
            },
            ResponseFormat::Url => {
                let key = state
                    .store()
                    .put(image.bytes.clone(), store_ext(image.format))
                    .await
                    .map_err(|e| ApiError::internal(format!("storing a result image: {e}")))?;
                let path = state.store().signed_path(&key, SystemTime::now());
                ImageData {
                    url: Some(format!("{}{path}", links.0)),
                    ..ImageData::default()
                }
            }
        };
        data.push(item);
    }
    let mut body = ImagesResponse {
        created: unix_now(),
        data,
        background: None,
        output_format: None,
        quality: None,
        size: None,
        usage: None,
    };
    if let Some(first) = output.images.first().filter(|_| edit.gpt_style) {
        describe(&mut body, edit, first);
        body.usage = Some(usage(request, edit, first, output.images.len()));
    }
    Ok(Json(body).into_response())
}

/// Fills in the resolved `size`, `quality`, `background` and `output_format` (never `auto`).
fn describe(body: &mut ImagesResponse, edit: &ValidatedEdit, image: &EncodedImage) {
    body.size = Some(format!("{}x{}", image.width, image.height));
    body.quality = Some(edit.quality.as_str().to_owned());
    body.background = Some(background(image).to_owned());
    body.output_format = Some(image.format.as_str().to_owned());
}

/// Token usage in OpenAI's terms, estimated from the prompt, the inputs and the outputs.
fn usage(request: &EditRequest, edit: &ValidatedEdit, image: &EncodedImage, n: usize) -> Usage {
    let inputs: Vec<(u32, u32)> = request
        .images
        .iter()
        .filter_map(|f| f.info.as_ref().map(|i| (i.width, i.height)))
        .collect();
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    Usage::estimate(
        &request.prompt,
        &inputs,
        (image.width, image.height),
        n,
        edit.quality,
    )
}

fn background(image: &EncodedImage) -> &'static str {
    if image.has_transparency {
        "transparent"
    } else {
        "opaque"
    }
}

/// Starts a streamed edit. Errors found before the first event (undecodable image, mask of the
/// wrong size, a full queue) are answered as ordinary JSON errors with their status; after that
/// the stream carries them as `error` events.
async fn stream(
    state: &AppState,
    mut events: mpsc::Receiver<Result<EditEvent, ApiError>>,
    edit: ValidatedEdit,
    request: Arc<EditRequest>,
    guard: DropGuard,
) -> Result<Response, ApiError> {
    let first = tokio::select! {
        first = events.recv() => first,
        () = state.shutdown().expired() => return Err(crate::handlers::images::shutting_down()),
    };
    let first = match first {
        Some(Ok(event)) => event,
        Some(Err(error)) => return Err(error),
        None => {
            return Err(ApiError::internal(
                "the edit ended without producing an image",
            ));
        }
    };
    let body = sse_events(first, events, edit, request, guard, state.clone());
    let mut response = Sse::new(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn sse_events(
    first: EditEvent,
    events: mpsc::Receiver<Result<EditEvent, ApiError>>,
    edit: ValidatedEdit,
    request: Arc<EditRequest>,
    guard: DropGuard,
    state: AppState,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    struct Running {
        pending: Option<EditEvent>,
        events: mpsc::Receiver<Result<EditEvent, ApiError>>,
        edit: ValidatedEdit,
        request: Arc<EditRequest>,
        // Dropped with the stream when the client disconnects, which cancels the edit.
        _guard: DropGuard,
        state: AppState,
        done: bool,
    }
    let running = Running {
        pending: Some(first),
        events,
        edit,
        request,
        _guard: guard,
        state,
        done: false,
    };
    futures_util::stream::unfold(running, |mut run| async move {
        if run.done {
            return None;
        }
        let next = match run.pending.take() {
            Some(event) => Some(Ok(event)),
            None => tokio::select! {
                next = run.events.recv() => next,
                () = run.state.shutdown().expired() => Some(Err(crate::handlers::images::shutting_down())),
            },
        };
        let event = match next {
            None => return None,
            Some(Ok(event)) => event_frame(&event, &run.edit, &run.request),
            Some(Err(error)) => {
                run.done = true;
                error_frame(&error)
            }
        };
        Some((Ok(event), run))
    })
}

fn event_frame(event: &EditEvent, edit: &ValidatedEdit, request: &EditRequest) -> Event {
    let (name, image, extra) = match event {
        EditEvent::Partial {
            partial_index,
            image,
        } => (
            "image_edit.partial_image",
            image,
            serde_json::json!({ "partial_image_index": partial_index }),
        ),
        EditEvent::Completed { image, .. } => (
            "image_edit.completed",
            image,
            serde_json::json!({ "usage": usage(request, edit, image, 1) }),
        ),
    };
    let mut payload = serde_json::json!({
        "type": name,
        "b64_json": BASE64.encode(&image.bytes),
        "created_at": unix_now(),
        "size": format!("{}x{}", image.width, image.height),
        "quality": edit.quality.as_str(),
        "background": background(image),
        "output_format": image.format.as_str(),
    });
    if let (Some(target), serde_json::Value::Object(extra)) = (payload.as_object_mut(), extra) {
        target.extend(extra);
    }
    Event::default().event(name).data(payload.to_string())
}

fn error_frame(error: &ApiError) -> Event {
    let body = error.body();
    let payload = serde_json::json!({ "type": "error", "error": body.error });
    Event::default().event("error").data(payload.to_string())
}

/// Renders whatever the routed target produced.
pub(crate) async fn routed(
    state: &AppState,
    routed: Routed,
    links: &LinkBase,
    guard: DropGuard,
) -> Result<Response, ApiError> {
    let Routed {
        output,
        report,
        request,
        edit,
    } = routed;
    match output {
        RoutedOutput::Local(output) => {
            drop(guard);
            images_response(state, &request, &edit, output, links).await
        }
        RoutedOutput::LocalStream(events) => stream(state, events, edit, request, guard).await,
        RoutedOutput::Remote(ProviderOutput::Stream(upstream)) => Ok(passthrough(upstream, guard)),
        RoutedOutput::Remote(ProviderOutput::Images(images)) => {
            drop(guard);
            remote_images(state, &edit, images, report.provider, links).await
        }
    }
}

/// The upstream's own `text/event-stream`, forwarded chunk by chunk with no buffering. A
/// transport error mid-stream becomes a final SSE `error` event.
fn passthrough(upstream: ProviderStream, guard: DropGuard) -> Response {
    let ProviderStream {
        content_type, body, ..
    } = upstream;
    let chunks = body.map(move |chunk| {
        // The guard lives as long as the stream: a client that goes away cancels upstream.
        let _alive = &guard;
        Ok::<Bytes, Infallible>(match chunk {
            Ok(bytes) => bytes,
            Err(error) => {
                let payload = serde_json::json!({ "type": "error", "error": error.body().error });
                Bytes::from(format!("event: error\ndata: {payload}\n\n"))
            }
        })
    });
    let mut response = Response::new(axum::body::Body::from_stream(chunks));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("text/event-stream")),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn ext_for(mime: Option<&str>, bytes: &[u8]) -> ImageExt {
    let sniffed = retouch_api::sniff(bytes)
        .and_then(|f| f.supported())
        .map(|f| f.mime());
    match mime.or(sniffed) {
        Some("image/jpeg") => ImageExt::Jpeg,
        Some("image/webp") => ImageExt::Webp,
        Some(_) | None => ImageExt::Png,
    }
}

/// A provider's images in the shape the caller asked for.
async fn remote_images(
    state: &AppState,
    edit: &ValidatedEdit,
    images: ProviderImages,
    provider: ProviderKind,
    links: &LinkBase,
) -> Result<Response, ApiError> {
    let client = state
        .gateway()
        .client()
        .ok_or_else(|| ApiError::internal("the upstream HTTP client is unavailable"))?;
    let slug = provider.as_str();
    if edit.stream {
        // A provider without streaming: the caller still gets the events it asked for, one
        // completed image each.
        let mut frames = Vec::with_capacity(images.images.len());
        for image in &images.images {
            let bytes = client.image_bytes(slug, image).await?;
            let payload = serde_json::json!({
                "type": "image_edit.completed",
                "b64_json": BASE64.encode(&bytes),
                "created_at": unix_now(),
                "size": images.size.clone().unwrap_or_else(|| "auto".to_owned()),
                "quality": images.quality.clone().unwrap_or_else(|| edit.quality.as_str().to_owned()),
                "background": images.background.clone().unwrap_or_else(|| "opaque".to_owned()),
                "output_format": images.output_format.clone().unwrap_or_else(|| edit.output_format.as_str().to_owned()),
            });
            frames.push(Ok::<Event, Infallible>(
                Event::default()
                    .event("image_edit.completed")
                    .data(payload.to_string()),
            ));
        }
        let mut response = Sse::new(futures_util::stream::iter(frames)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return Ok(response);
    }
    let mut data = Vec::with_capacity(images.images.len());
    for image in &images.images {
        let item = match (edit.response_format, image) {
            (ResponseFormat::B64Json, image) => ImageData {
                b64_json: Some(BASE64.encode(client.image_bytes(slug, image).await?)),
                ..ImageData::default()
            },
            (ResponseFormat::Url, ProviderImage::Url(url)) => ImageData {
                url: Some(url.clone()),
                ..ImageData::default()
            },
            (ResponseFormat::Url, ProviderImage::Bytes { data, mime }) => {
                let key = state
                    .store()
                    .put(data.clone(), ext_for(mime.as_deref(), data))
                    .await
                    .map_err(|e| ApiError::internal(format!("storing a result image: {e}")))?;
                let path = state.store().signed_path(&key, SystemTime::now());
                ImageData {
                    url: Some(format!("{}{path}", links.0)),
                    ..ImageData::default()
                }
            }
        };
        data.push(item);
    }
    let body = ImagesResponse {
        created: images.created.unwrap_or_else(unix_now),
        data,
        background: images.background,
        output_format: images.output_format,
        quality: images.quality,
        size: images.size,
        usage: images
            .usage
            .and_then(|u| serde_json::from_value::<Usage>(u).ok()),
    };
    Ok(Json(body).into_response())
}
