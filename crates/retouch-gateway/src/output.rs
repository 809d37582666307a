//! What goes into and comes out of a provider call.

use std::sync::Arc;

use bytes::Bytes;
use retouch_api::{EditRequest, OutputFormat, ValidatedEdit};
use tokio_util::sync::CancellationToken;

/// The providers an edit can be routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// The embedded content-aware fill engine.
    Local,
    /// OpenAI.
    OpenAi,
    /// Azure OpenAI.
    AzureOpenAi,
    /// Stability AI.
    StabilityAi,
    /// AUTOMATIC1111 / Forge.
    A1111,
    /// Google Gemini.
    Gemini,
    /// IOPaint.
    IoPaint,
    /// Any OpenAI-compatible server.
    OpenAiCompatible,
}

impl ProviderKind {
    /// The provider's slug, as sent in `x-portkey-provider`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::OpenAi => "openai",
            Self::AzureOpenAi => "azure-openai",
            Self::StabilityAi => "stability-ai",
            Self::A1111 => "a1111",
            Self::Gemini => "gemini",
            Self::IoPaint => "iopaint",
            Self::OpenAiCompatible => "openai-compatible",
        }
    }
}

/// One validated edit, ready to run.
#[derive(Debug, Clone)]
pub struct EditCall {
    /// The request as the client sent it (file bytes are shared, not copied).
    pub request: Arc<EditRequest>,
    /// The request's parameters resolved by the target model's rules.
    pub edit: ValidatedEdit,
    /// The model name reported back to the client.
    pub model: String,
    /// Cancelled when the client goes away or the server stops waiting; providers stop early.
    pub cancel: CancellationToken,
}

/// An encoded result image.
#[derive(Debug, Clone)]
pub struct EncodedImage {
    /// The file bytes, in `format`.
    pub bytes: Bytes,
    /// The encoding of `bytes`.
    pub format: OutputFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether any pixel is not fully opaque (reported as the resolved `background`).
    pub has_transparency: bool,
}

/// A step of a running edit.
#[derive(Debug, Clone)]
pub enum EditEvent {
    /// An intermediate rendering of the first image.
    Partial {
        /// 0-based, in the order sent.
        partial_index: u32,
        /// The image so far.
        image: EncodedImage,
    },
    /// A finished image.
    Completed {
        /// 0-based position of this image in the request's `n`.
        index: u32,
        /// The image.
        image: EncodedImage,
    },
}

/// A finished edit.
#[derive(Debug, Clone)]
pub struct EditOutput {
    /// The images, in order.
    pub images: Vec<EncodedImage>,
    /// Who served the edit.
    pub provider: ProviderKind,
    /// The model that served the edit.
    pub model: String,
    /// How many provider attempts it took (1 when the first succeeded).
    pub attempts: u32,
}
