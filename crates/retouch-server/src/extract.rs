//! Our own request-body extractor for the edits endpoint.
//!
//! It reads `multipart/form-data` (or the JSON body GPT image models accept) as a stream and
//! enforces every bound while the bytes arrive: whole body, per file, per text field, part
//! count, idle time between chunks and total time. A 60 MB upload is refused after the first
//! byte past the limit, never buffered. Every failure, down to a body with no boundary, comes
//! back as an [`ApiError`] in OpenAI's shape instead of axum's plain-text rejections.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, header};
use retouch_api::form::{EditForm, FormPart};
use retouch_api::request::JsonLimits;
use retouch_api::{ApiError, EditRequest};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::error::ErrorResponse;
use crate::state::{AppState, Limits};

/// A parsed, not yet validated, edit request.
#[derive(Debug)]
pub(crate) struct EditBody(pub(crate) EditRequest);

impl FromRequest<AppState> for EditBody {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limits = state.limits();
        let (parts, body) = req.into_parts();
        check_declared_length(&parts.headers, limits)?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mime: Option<mime::Mime> = content_type.parse().ok();
        let stream = timed_body(body, limits);
        let request = match mime.as_ref().map(|m| (m.type_(), m.subtype())) {
            Some((mime::MULTIPART, mime::FORM_DATA)) => {
                let boundary = multer::parse_boundary(&content_type).map_err(|_| {
                    ApiError::invalid_request(
                        "Invalid multipart/form-data body: the Content-Type header has no \
                         boundary parameter. Let your HTTP client set the header for the form.",
                        None,
                    )
                })?;
                let form = read_form(stream, boundary, limits).await?;
                EditRequest::from_form(form)?
            }
            Some((mime::APPLICATION, mime::JSON)) => {
                let body = read_all(stream, limits.max_body_bytes).await?;
                EditRequest::from_json(&body, &JsonLimits::default())?
            }
            _ => return Err(wrong_content_type(&content_type).into()),
        };
        Ok(Self(request))
    }
}

fn wrong_content_type(content_type: &str) -> ApiError {
    let shown = if content_type.is_empty() {
        "none".to_owned()
    } else {
        format!("'{content_type}'")
    };
    ApiError::invalid_request(
        format!(
            "Invalid Content-Type header ({shown}). Send the edit as multipart/form-data \
             (or application/json with data: URLs for GPT image models)."
        ),
        None,
    )
    .with_status(415)
}

fn too_large(what: &str, limit: u64) -> ApiError {
    ApiError::invalid_request(
        format!(
            "{what} is larger than the {} limit. Send a smaller file.",
            human_bytes(limit)
        ),
        None,
    )
    .with_status(413)
    .with_code("request_too_large")
}

fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MB", bytes / MIB)
    } else if bytes >= 1024 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Refuses a body whose declared length is over the limit before reading any of it.
fn check_declared_length(headers: &HeaderMap, limits: &Limits) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(0) => Err(ApiError::invalid_request(
            "The request body is empty. Send the image and prompt as multipart/form-data.",
            None,
        )),
        Some(len) if len > limits.max_body_bytes => {
            Err(too_large("The request body", limits.max_body_bytes))
        }
        Some(_) | None => Ok(()),
    }
}

/// Why reading the body stopped early; carried through multer as its stream error.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("the client sent no data for {0:?}")]
    Idle(Duration),
    #[error("the body took longer than {0:?} to arrive")]
    TooSlow(Duration),
    #[error("reading the body failed: {0}")]
    Read(String),
}

impl BodyError {
    fn into_api(self) -> ApiError {
        match self {
            Self::Idle(_) | Self::TooSlow(_) => ApiError::invalid_request(
                format!("Request timeout: {self}. Send the whole body promptly and retry."),
                None,
            )
            .with_status(408)
            .with_code("request_timeout"),
            Self::Read(_) => ApiError::invalid_request(
                "The request body could not be read completely. Check the upload and retry.",
                None,
            ),
        }
    }
}

/// The body as a stream of chunks that fails when the client stalls or dawdles.
fn timed_body(
    body: Body,
    limits: &Limits,
) -> impl Stream<Item = Result<Bytes, BodyError>> + Send + 'static {
    let idle = limits.body_idle_timeout;
    let total = limits.body_timeout;
    let deadline = Instant::now() + total;
    let stream = body.into_data_stream();
    futures_util::stream::unfold(Some(stream), move |state| async move {
        let mut stream = state?;
        let wait = idle.min(deadline.saturating_duration_since(Instant::now()));
        match tokio::time::timeout(wait, stream.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(stream))),
            Ok(Some(Err(error))) => Some((Err(BodyError::Read(error.to_string())), None)),
            Ok(None) => None,
            Err(_) if Instant::now() >= deadline => Some((Err(BodyError::TooSlow(total)), None)),
            Err(_) => Some((Err(BodyError::Idle(idle)), None)),
        }
    })
}

async fn read_all(
    stream: impl Stream<Item = Result<Bytes, BodyError>>,
    limit: u64,
) -> Result<Bytes, ApiError> {
    let mut stream = std::pin::pin!(stream);
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::into_api)?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(too_large("The request body", limit));
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.is_empty() {
        return Err(ApiError::invalid_request(
            "The request body is empty.",
            None,
        ));
    }
    Ok(buf.freeze())
}

async fn read_form(
    stream: impl Stream<Item = Result<Bytes, BodyError>> + Send + 'static,
    boundary: String,
    limits: &Limits,
) -> Result<EditForm, ApiError> {
    let constraints = multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(limits.max_body_bytes)
            .per_field(limits.max_file_bytes.max(limits.max_text_bytes)),
    );
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut parts = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Err(multipart_error(error, limits, None)),
        };
        if parts.len() >= limits.max_parts {
            return Err(ApiError::invalid_request(
                format!(
                    "Too many parts in the multipart body: the limit is {}. Send at most 16 \
                     images, one mask and the documented text fields.",
                    limits.max_parts
                ),
                None,
            ));
        }
        let Some(name) = field.name().map(str::to_owned) else {
            return Err(ApiError::invalid_request(
                "Invalid multipart/form-data body: a part has no name in its \
                 Content-Disposition header. Name every part (e.g. name=\"image\").",
                None,
            ));
        };
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let limit = if filename.is_some() {
            limits.max_file_bytes
        } else {
            limits.max_text_bytes
        };
        let data = read_field(field, limit, &name, limits).await?;
        parts.push(FormPart {
            name,
            filename,
            content_type,
            data,
        });
    }
    if parts.is_empty() {
        return Err(ApiError::invalid_request(
            "The multipart body has no parts. Send the image and prompt as form fields.",
            None,
        ));
    }
    Ok(EditForm { parts })
}

/// File parts stay in memory up to this size while they arrive; past it they continue into an
/// unnamed temporary file, so an upload that turns out to be over the limit is refused without
/// ever occupying memory. Accepted parts are read back whole (the decoder needs them).
const SPILL_THRESHOLD: usize = 2 * 1024 * 1024;

async fn read_field(
    mut field: multer::Field<'static>,
    limit: u64,
    name: &str,
    limits: &Limits,
) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    let mut spill: Option<tokio::fs::File> = None;
    let mut total: u64 = 0;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(error) => return Err(multipart_error(error, limits, Some(name))),
        };
        total += chunk.len() as u64;
        if total > limit {
            return Err(field_too_large(name, limit));
        }
        match spill.as_mut() {
            Some(file) => file.write_all(&chunk).await.map_err(spill_error)?,
            None if buf.len() + chunk.len() > SPILL_THRESHOLD => {
                let mut file = spill_file().await?;
                file.write_all(&buf).await.map_err(spill_error)?;
                file.write_all(&chunk).await.map_err(spill_error)?;
                buf = BytesMut::new();
                spill = Some(file);
            }
            None => buf.extend_from_slice(&chunk),
        }
    }
    match spill {
        None => Ok(buf.freeze()),
        Some(mut file) => {
            file.flush().await.map_err(spill_error)?;
            file.seek(std::io::SeekFrom::Start(0))
                .await
                .map_err(spill_error)?;
            let mut data = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
            file.read_to_end(&mut data).await.map_err(spill_error)?;
            Ok(Bytes::from(data))
        }
    }
}

/// An unnamed temporary file: deleted by the OS when closed, never visible under a name.
async fn spill_file() -> Result<tokio::fs::File, ApiError> {
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| ApiError::internal(format!("creating an upload spill file: {e}")))?
        .map_err(spill_error)?;
    Ok(tokio::fs::File::from_std(file))
}

fn spill_error(error: std::io::Error) -> ApiError {
    ApiError::internal(format!("upload spill file: {error}"))
}

fn field_too_large(name: &str, limit: u64) -> ApiError {
    let mut error = too_large(&format!("The '{name}' part"), limit);
    error.param = Some(name.to_owned());
    error
}

fn multipart_error(error: multer::Error, limits: &Limits, field: Option<&str>) -> ApiError {
    use multer::Error as E;
    match error {
        E::StreamSizeExceeded { .. } => too_large("The request body", limits.max_body_bytes),
        E::FieldSizeExceeded { field_name, .. } => {
            let name = field_name
                .or_else(|| field.map(str::to_owned))
                .unwrap_or_default();
            field_too_large(&name, limits.max_file_bytes)
        }
        E::StreamReadFailed(source) => match source.downcast::<BodyError>() {
            Ok(body_error) => body_error.into_api(),
            Err(_) => BodyError::Read(String::new()).into_api(),
        },
        E::UnknownField { .. }
        | E::IncompleteFieldData { .. }
        | E::IncompleteHeaders
        | E::ReadHeaderFailed(_)
        | E::DecodeHeaderName { .. }
        | E::DecodeHeaderValue { .. }
        | E::IncompleteStream
        | E::LockFailure
        | E::NoMultipart
        | E::DecodeContentType(_)
        | E::NoBoundary => ApiError::invalid_request(
            format!(
                "Invalid multipart/form-data body: {}. Check that the body matches the boundary \
                 in the Content-Type header and is complete.",
                describe_multer(&error)
            ),
            None,
        ),
        // multer's error enum is non-exhaustive.
        other => {
            ApiError::invalid_request(format!("Invalid multipart/form-data body: {other}."), None)
        }
    }
}

fn describe_multer(error: &multer::Error) -> String {
    let text = error.to_string();
    text.trim_end_matches('.').to_owned()
}
