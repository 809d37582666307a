//! The raw multipart form as the server collected it.
//!
//! The server's streaming multipart reader enforces byte and part-count limits and rejects parts
//! without a name; what reaches this crate is a complete, bounded list of parts in arrival order.
//! Turning it into a typed request is `request.rs`'s job.

use bytes::Bytes;

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// The `name` from `Content-Disposition`, as sent (`image[]`, `prompt`, ...).
    pub name: String,
    /// The `filename` from `Content-Disposition`; its presence is what marks a file part.
    pub filename: Option<String>,
    /// The part's `Content-Type` header, if any. Never trusted for image formats (we sniff).
    pub content_type: Option<String>,
    /// The part's body.
    pub data: Bytes,
}

impl FormPart {
    /// A text field part (no filename, no content type).
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            filename: None,
            content_type: None,
            data: Bytes::from(value.into()),
        }
    }

    /// A file part.
    pub fn file(
        name: impl Into<String>,
        filename: impl Into<String>,
        content_type: Option<&str>,
        data: impl Into<Bytes>,
    ) -> Self {
        Self {
            name: name.into(),
            filename: Some(filename.into()),
            content_type: content_type.map(str::to_owned),
            data: data.into(),
        }
    }
}

/// A whole multipart form, parts in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditForm {
    /// The parts, in the order they arrived.
    pub parts: Vec<FormPart>,
}

impl EditForm {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a part (builder style, for tests and the CLI).
    #[must_use]
    pub fn with(mut self, part: FormPart) -> Self {
        self.parts.push(part);
        self
    }
}
