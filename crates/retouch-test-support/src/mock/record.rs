//! Recording of the requests a mock receives: headers, body, multipart parts with their
//! SHA-256, and the JSON body when there is one.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri, header};

use crate::fixtures::sha256_hex;

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Every header.
    pub headers: HeaderMap,
    /// The raw body.
    pub body: Bytes,
    /// The multipart parts, in order, when the body was `multipart/form-data`.
    pub parts: Vec<RecordedPart>,
    /// The body parsed as JSON, when it was JSON.
    pub json: Option<serde_json::Value>,
    /// Set when the body claimed to be multipart but could not be parsed.
    pub multipart_error: Option<String>,
}

/// One multipart part.
#[derive(Debug, Clone)]
pub struct RecordedPart {
    /// The form field name.
    pub name: String,
    /// The file name, for file parts.
    pub filename: Option<String>,
    /// The part's `Content-Type`, if it had one.
    pub content_type: Option<String>,
    /// The part's bytes.
    pub data: Bytes,
    /// Lowercase hex SHA-256 of `data`.
    pub sha256: String,
}

impl RecordedRequest {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first part named `name`.
    pub fn part(&self, name: &str) -> Option<&RecordedPart> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// Every part named `name`, in order.
    pub fn parts_named(&self, name: &str) -> Vec<&RecordedPart> {
        self.parts.iter().filter(|p| p.name == name).collect()
    }

    /// The text value of the first (non-file or file) part named `name`.
    pub fn field(&self, name: &str) -> Option<String> {
        self.part(name)
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
    }

    /// The value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then(|| value.to_owned())
        })
    }

    /// A JSON value by RFC 6901 pointer (`/init_images/0`).
    pub fn json_at(&self, pointer: &str) -> Option<&serde_json::Value> {
        self.json.as_ref()?.pointer(pointer)
    }
}

pub(super) async fn record(
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
    body: Bytes,
) -> RecordedRequest {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut parts = Vec::new();
    let mut multipart_error = None;
    let mut json = None;
    if content_type.starts_with("multipart/form-data") {
        match parse_multipart(&content_type, body.clone()).await {
            Ok(parsed) => parts = parsed,
            Err(error) => multipart_error = Some(error),
        }
    } else if content_type.starts_with("application/json") {
        json = serde_json::from_slice(&body).ok();
    }
    RecordedRequest {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
        parts,
        json,
        multipart_error,
    }
}

async fn parse_multipart(content_type: &str, body: Bytes) -> Result<Vec<RecordedPart>, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let data = field.bytes().await.map_err(|e| e.to_string())?;
        let sha256 = sha256_hex(&data);
        parts.push(RecordedPart {
            name,
            filename,
            content_type,
            data,
            sha256,
        });
    }
    Ok(parts)
}
