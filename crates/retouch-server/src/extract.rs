//! Our own request-body extractor for the edits endpoint.
//!
//! It reads `multipart/form-data` (or the JSON body GPT image models accept) as a stream and
//! enforces every bound while the bytes arrive: whole body, per file, per text field, part
//! count, idle time between chunks and total time. A 60 MB upload is refused after the first
//! byte past the limit, never buffered. Every failure, down to a body with no boundary, comes
//! back as an [`ApiError`] in OpenAI's shape instead of axum's plain-text rejections.

use std::io::{Read as _, Seek as _, Write as _};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, header};
use retouch_api::form::{EditForm, FormPart};
use retouch_api::request::JsonLimits;
use retouch_api::{ApiError, EditRequest};
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
        let declared = check_declared_length(&parts.headers, limits)?;
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
                let form = read_form(stream, boundary, declared, limits).await?;
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

/// Refuses a body whose declared length is over the limit before reading any of it; returns
/// the declared length.
fn check_declared_length(headers: &HeaderMap, limits: &Limits) -> Result<Option<u64>, ApiError> {
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
        other @ (Some(_) | None) => Ok(other),
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
    declared: Option<u64>,
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
        // A body that declared a length no larger than the part's limit cannot hold an oversized
        // part, so its parts are gathered in memory, never spilled (see `Gather`).
        let room = declared
            .filter(|&len| len <= limit)
            .and_then(|len| usize::try_from(len).ok());
        let data = read_field(field, limit, room, &name, limits).await?;
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

/// File parts stay in memory up to this size while they arrive; past it, in a body of unknown or
/// over-limit declared length, they continue into an unnamed temporary file, so an upload that
/// turns out to be over the limit is refused without ever occupying memory. Accepted parts are read back whole (the decoder and every upstream
/// attempt need them), once, into a buffer of exactly their size. Kept small: the network
/// buffers held until the spill are freed again after it, and with many large uploads at once
/// the allocator keeps those holes resident beside the read-back buffers (the gateway
/// benchmark measured 1.45x the payload per in-flight 4 MB request at 2 MiB).
const SPILL_THRESHOLD: usize = 256 * 1024;

/// Spilled chunks are written in batches of about this size: one trip to the blocking pool per
/// batch rather than one per network chunk, which is what a forwarded 4 MB image spends its
/// time on otherwise.
const SPILL_BATCH: usize = 256 * 1024;

async fn read_field(
    mut field: multer::Field<'static>,
    limit: u64,
    room: Option<usize>,
    name: &str,
    limits: &Limits,
) -> Result<Bytes, ApiError> {
    // Chunks as they came off the network, not copied into a growing buffer: a growing buffer
    // copies on every doubling and leaves multi-megabyte blocks behind in the allocator.
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut held: usize = 0;
    let mut spill: Option<Sink> = None;
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
            Some(sink) => sink.push(chunk).await?,
            None if held + chunk.len() > SPILL_THRESHOLD => {
                let mut sink = match room {
                    Some(room) => Sink::Memory(Vec::with_capacity(room)),
                    None => Sink::File(Spill::create().await?),
                };
                for held_chunk in std::mem::take(&mut chunks) {
                    sink.push(held_chunk).await?;
                }
                sink.push(chunk).await?;
                spill = Some(sink);
            }
            None => {
                held += chunk.len();
                chunks.push(chunk);
            }
        }
    }
    match spill {
        Some(Sink::File(spill)) => spill.read_back(total).await,
        Some(Sink::Memory(data)) => Ok(Bytes::from(data)),
        None => Ok(concat(chunks, held)),
    }
}

/// Where a part past [`SPILL_THRESHOLD`] goes.
enum Sink {
    /// The body declared a length within the part's limit: one buffer reserved at that length
    /// (address space only: the allocator maps pages as they are written, so a part shorter than
    /// the body costs only what it holds), filled by one copy per chunk. This is the common case
    /// — every HTTP client sends `Content-Length` with a form — and it skips the spill file's
    /// write and read-back, which the gateway benchmark found to be most of the forwarding
    /// overhead of a 4 MB edit.
    Memory(Vec<u8>),
    /// Unknown or over-limit declared length: a temporary file, so an oversized upload is
    /// refused without having occupied memory.
    File(Spill),
}

impl Sink {
    async fn push(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        match self {
            Self::Memory(data) => {
                data.extend_from_slice(&chunk);
                Ok(())
            }
            Self::File(spill) => spill.push(chunk).await,
        }
    }
}

/// One buffer of the chunks: the chunk itself when there is one, else one exactly sized copy.
fn concat(mut chunks: Vec<Bytes>, len: usize) -> Bytes {
    if chunks.len() == 1 {
        return chunks.pop().unwrap_or_default();
    }
    let mut buf = BytesMut::with_capacity(len);
    for chunk in &chunks {
        buf.extend_from_slice(chunk);
    }
    buf.freeze()
}

/// A part that outgrew [`SPILL_THRESHOLD`]: an unnamed temporary file (deleted by the OS when
/// closed, never visible under a name) and the chunks not yet written to it. The chunks are the
/// network's own buffers, held until a batch is full, so nothing is copied on the way to disk.
struct Spill {
    file: Option<std::fs::File>,
    pending: Vec<Bytes>,
    pending_bytes: usize,
}

impl Spill {
    async fn create() -> Result<Self, ApiError> {
        let file = blocking(tempfile::tempfile).await?;
        Ok(Self {
            file: Some(file),
            pending: Vec::new(),
            pending_bytes: 0,
        })
    }

    async fn push(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        self.pending_bytes += chunk.len();
        self.pending.push(chunk);
        if self.pending_bytes >= SPILL_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes the pending chunks; the file travels to the blocking pool and back with them.
    async fn flush(&mut self) -> Result<(), ApiError> {
        let mut file = self.take_file()?;
        let batch = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let file = blocking(move || {
            for chunk in &batch {
                file.write_all(chunk)?;
            }
            Ok(file)
        })
        .await?;
        self.file = Some(file);
        Ok(())
    }

    /// The whole part, `total` bytes, in one exactly sized buffer.
    async fn read_back(mut self, total: u64) -> Result<Bytes, ApiError> {
        self.flush().await?;
        let mut file = self.take_file()?;
        let len = usize::try_from(total)
            .map_err(|_| ApiError::internal("upload spill file: part too large to read back"))?;
        blocking(move || {
            file.seek(std::io::SeekFrom::Start(0))?;
            // Read into the spare capacity: no zeroing pass first (a zeroed buffer cost a 4 MB
            // memset per upload), and at exactly the right capacity `read_to_end` meets the end
            // of the file without growing the buffer.
            let mut data = Vec::with_capacity(len);
            file.read_to_end(&mut data)?;
            if data.len() != len {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("read back {} of {len} bytes", data.len()),
                ));
            }
            Ok(Bytes::from(data))
        })
        .await
    }

    fn take_file(&mut self) -> Result<std::fs::File, ApiError> {
        self.file
            .take()
            .ok_or_else(|| ApiError::internal("upload spill file: used after a failed write"))
    }
}

/// Runs file I/O on the blocking pool, mapping both the I/O error and a lost task.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("upload spill file: {e}")))?
        .map_err(spill_error)
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

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDARY: &str = "test-boundary-5b2d4068";

    /// Bytes that never repeat a short pattern, so a misplaced or dropped chunk shows.
    fn noise(len: usize) -> Vec<u8> {
        let mut state: u32 = 0x9E37_79B9;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect()
    }

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, filename, data) in parts {
            out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            match filename {
                Some(f) => out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                         Content-Type: image/png\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        out
    }

    /// The body as a network would deliver it: many small chunks of an odd size, with no
    /// declared length (so large parts go through the spill file).
    async fn parse(body: Vec<u8>, limits: &Limits) -> Result<EditForm, ApiError> {
        parse_declared(body, false, limits).await
    }

    /// [`parse`], optionally declaring the body's length as `Content-Length` would.
    async fn parse_declared(
        body: Vec<u8>,
        declare: bool,
        limits: &Limits,
    ) -> Result<EditForm, ApiError> {
        let declared = declare.then_some(body.len() as u64);
        let chunks: Vec<Result<Bytes, BodyError>> = body
            .chunks(7 * 1024 + 3)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        read_form(
            futures_util::stream::iter(chunks),
            BOUNDARY.to_owned(),
            declared,
            limits,
        )
        .await
    }

    #[tokio::test]
    async fn parts_past_the_spill_threshold_come_back_byte_identical() {
        // Over the threshold by more than one write batch, and not a multiple of the chunk;
        // through the spill file (no declared length) and through the reserved buffer.
        for declare in [false, true] {
            large_parts_survive(declare).await;
        }
    }

    async fn large_parts_survive(declare: bool) {
        let big = noise(SPILL_THRESHOLD + 3 * SPILL_BATCH + 12_345);
        let small = noise(100_000);
        let form = parse_declared(
            body(&[
                ("prompt", None, b"fill it"),
                ("image", Some("big.png"), &big),
                ("mask", Some("mask.png"), &small),
            ]),
            declare,
            &Limits::default(),
        )
        .await
        .unwrap();
        let names: Vec<_> = form.parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["prompt", "image", "mask"]);
        assert_eq!(&form.parts[0].data[..], b"fill it");
        assert_eq!(form.parts[1].data.len(), big.len());
        assert!(form.parts[1].data == big, "spilled part changed");
        assert!(form.parts[2].data == small, "in-memory part changed");
    }

    #[tokio::test]
    async fn a_part_over_its_limit_is_refused_while_spilling() {
        let limits = Limits {
            max_file_bytes: (SPILL_THRESHOLD + SPILL_BATCH) as u64,
            ..Limits::default()
        };
        let too_big = noise(SPILL_THRESHOLD + 2 * SPILL_BATCH);
        let error = parse(body(&[("image", Some("a.png"), &too_big)]), &limits)
            .await
            .unwrap_err();
        assert_eq!(error.status, 413);
        assert_eq!(error.param.as_deref(), Some("image"));
    }

    #[test]
    fn one_chunk_is_kept_as_is_and_several_are_joined() {
        let one = Bytes::from_static(b"abc");
        let joined = concat(vec![one.clone()], 3);
        assert_eq!(
            joined.as_ptr(),
            one.as_ptr(),
            "a single chunk is not copied"
        );
        let parts = vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cde")];
        assert_eq!(&concat(parts, 5)[..], b"abcde");
        assert!(concat(Vec::new(), 0).is_empty());
    }
}
