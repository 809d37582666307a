//! The OpenAI `POST /v1/images/edits` contract: bytes in, a typed request or an OpenAI error out.
//!
//! - [`form`]: the raw multipart form the server collected (bounded by the server).
//! - [`request`]: multipart / JSON body → [`EditRequest`] (syntax, types, duplicates, UTF-8).
//! - [`rules`]: per-model validation → [`ValidatedEdit`] with every default resolved.
//! - [`image`]: sniffing, header probing, bounded decoding, encoding, resizing.
//! - [`params`]: the enumerated parameters and their wire strings.
//! - [`wire`]: response bodies and streaming events, serialised exactly as OpenAI does.
//! - [`error`]: [`ApiError`], the one error every client-visible failure becomes.
//!
//! No async runtime and no HTTP framework here, so the contract can be tested and fuzzed alone.

pub mod error;
pub mod form;
pub mod image;
pub mod params;
pub mod request;
pub mod rules;
pub mod wire;

#[cfg(test)]
mod testutil;

pub use error::{ApiError, ApiErrorData, ErrorBody, ErrorKind, ErrorObject, ErrorSource};
pub use form::{EditForm, FormPart};
pub use image::{
    ColorModel, DecodeLimits, DecodedImage, ImageError, ImageFormat, ImageInfo, Orientation,
    SniffedFormat, decode_rgba, edit_mask_from_alpha, encode, probe, resize_rgba, sniff,
};
pub use params::{
    Background, InputFidelity, Moderation, OutputFormat, Quality, ResponseFormat, SizeParam,
};
pub use request::{BodyEncoding, EditRequest, InputFile, JsonLimits};
pub use rules::{GptImageModel, ModelRules, ValidatedEdit};
pub use wire::{
    ImageData, ImageEditCompletedEvent, ImageEditPartialImageEvent, ImagesResponse,
    InputTokensDetails, StreamEvent, Usage,
};
