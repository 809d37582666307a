//! Provider adapters: one closed enum, one module per provider, each owning its wire types and
//! its mask conversion.
//!
//! The routing layer calls [`Provider::edit`] once per attempt (adapters never retry) with the
//! parsed request, its validated parameters, a [`ProviderTarget`] (where and how to call), and
//! the shared [`UpstreamClient`]. It gets back a [`ProviderOutput`] or an [`ApiError`] that is
//! already OpenAI-shaped: the upstream's own 4xx passed through with its message (401/403/404/
//! 429 keep their status, 429 its `retry_after`), the upstream's faults as 502, timeouts as 504,
//! each naming the provider in `ApiError::provider` and never containing the key.
//!
//! The local engine is not here: routing dispatches `Local` to [`crate::LocalEngine`] itself.
//!
//! A target's [`ConcurrencyCap`] (`max_concurrency` on a configured provider) is applied here,
//! one permit per upstream call, the wait counted against the attempt's deadline (see
//! [`crate::limits`]).

mod a1111;
mod azure_openai;
mod error;
mod gemini;
mod iopaint;
mod openai;
mod openai_compatible;
mod stability;
mod target;

use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, TryStreamExt as _};
use reqwest::RequestBuilder;
use retouch_api::{ApiError, EditRequest, ValidatedEdit};
use serde::de::DeserializeOwned;
use url::Url;

use crate::http::UpstreamClient;
use crate::limits::ConcurrencyCap;
use crate::output::ProviderKind;

pub use gemini::DEFAULT_MODEL as GEMINI_DEFAULT_MODEL;
pub use target::{AZURE_DEFAULT_API_VERSION, AzureApi, AzureSettings, ProviderTarget, Secret};

/// The remote providers an edit can be sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// OpenAI `POST /v1/images/edits` (dall-e-2, gpt-image family).
    OpenAi,
    /// Azure OpenAI: deployment URL with `api-version`, or the v1 URL.
    AzureOpenAi,
    /// Stability AI v2beta `stable-image/edit/inpaint` (and `erase` for an empty prompt).
    StabilityAi,
    /// AUTOMATIC1111 / Forge `/sdapi/v1/img2img` inpainting.
    A1111,
    /// Google Gemini image models through `generateContent`.
    Gemini,
    /// A local IOPaint server's `/api/v1/inpaint`.
    IoPaint,
    /// Anything that speaks OpenAI's edits API at another base URL (LocalAI, vLLM, resellers).
    OpenAiCompatible,
}

impl Provider {
    /// Every provider, in documentation order.
    pub const ALL: [Self; 7] = [
        Self::OpenAi,
        Self::AzureOpenAi,
        Self::StabilityAi,
        Self::A1111,
        Self::Gemini,
        Self::IoPaint,
        Self::OpenAiCompatible,
    ];

    /// The slug used in configs and `x-portkey-provider` (Portkey's names where it has one).
    pub fn slug(self) -> &'static str {
        self.kind().as_str()
    }

    /// Parses a slug (as written by [`Provider::slug`]).
    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.slug() == slug)
    }

    /// The [`ProviderKind`] reported in responses.
    pub fn kind(self) -> ProviderKind {
        match self {
            Self::OpenAi => ProviderKind::OpenAi,
            Self::AzureOpenAi => ProviderKind::AzureOpenAi,
            Self::StabilityAi => ProviderKind::StabilityAi,
            Self::A1111 => ProviderKind::A1111,
            Self::Gemini => ProviderKind::Gemini,
            Self::IoPaint => ProviderKind::IoPaint,
            Self::OpenAiCompatible => ProviderKind::OpenAiCompatible,
        }
    }

    /// The base URL used when the target names none. `None` where there is no sensible default
    /// (Azure derives it from the resource name; an OpenAI-compatible server must be named).
    pub fn default_base_url(self) -> Option<Url> {
        let url = match self {
            Self::OpenAi => "https://api.openai.com/v1",
            Self::StabilityAi => "https://api.stability.ai",
            Self::A1111 => "http://127.0.0.1:7860",
            Self::Gemini => "https://generativelanguage.googleapis.com",
            Self::IoPaint => "http://127.0.0.1:8080",
            Self::AzureOpenAi | Self::OpenAiCompatible => return None,
        };
        Url::parse(url).ok()
    }

    /// Whether the provider can stream OpenAI's SSE events (`stream=true` passes through).
    pub fn streams(self) -> bool {
        match self {
            Self::OpenAi | Self::AzureOpenAi | Self::OpenAiCompatible => true,
            Self::StabilityAi | Self::A1111 | Self::Gemini | Self::IoPaint => false,
        }
    }

    /// Whether an attempt is exactly one upstream call (the OpenAI family, where the upstream
    /// makes all `n` images), as opposed to one call per image.
    fn one_call_per_attempt(self) -> bool {
        match self {
            Self::OpenAi | Self::AzureOpenAi | Self::OpenAiCompatible => true,
            Self::StabilityAi | Self::A1111 | Self::Gemini | Self::IoPaint => false,
        }
    }

    /// Runs one attempt of an edit against `target`.
    ///
    /// `request` is the caller's request (file bytes are shared, never copied); `edit` its
    /// parameters resolved by the model's rules (`n`, size, output format). Adapters for
    /// providers that make one image per call fan `n` out in parallel (at most
    /// [`MAX_FAN_OUT`] at a time) and fail as a whole when one call fails. The attempt,
    /// waits for the target's concurrency cap included, ends by `target.timeout`.
    pub async fn edit(
        self,
        request: &EditRequest,
        edit: &ValidatedEdit,
        target: &ProviderTarget,
        client: &UpstreamClient,
    ) -> Result<ProviderOutput, ApiError> {
        let now = tokio::time::Instant::now();
        // A caller's absurd timeout must not overflow the clock; a day is forever here.
        let deadline = now
            .checked_add(target.timeout)
            .unwrap_or(now + std::time::Duration::from_secs(86_400));
        let result = match (&target.concurrency, self.one_call_per_attempt()) {
            (Some(cap), true) => {
                self.edit_holding(cap, request, edit, target, client, deadline)
                    .await
            }
            (Some(_) | None, _) => {
                let call = Call {
                    provider: self,
                    request,
                    edit,
                    target,
                    client,
                    deadline,
                };
                self.dispatch(&call).await
            }
        };
        result.map_err(|e| {
            if e.provider.is_none() {
                e.with_provider(self.slug())
            } else {
                e
            }
        })
    }
}

impl Provider {
    async fn dispatch(self, call: &Call<'_>) -> Result<ProviderOutput, ApiError> {
        match self {
            Self::OpenAi => openai::edit(call).await,
            Self::AzureOpenAi => azure_openai::edit(call).await,
            Self::StabilityAi => stability::edit(call).await,
            Self::A1111 => a1111::edit(call).await,
            Self::Gemini => gemini::edit(call).await,
            Self::IoPaint => iopaint::edit(call).await,
            Self::OpenAiCompatible => openai_compatible::edit(call).await,
        }
    }

    /// A one-call attempt under a cap: the permit is held for the whole call, and for a
    /// streamed answer until its stream ends; the upstream gets what is left of the deadline.
    async fn edit_holding(
        self,
        cap: &ConcurrencyCap,
        request: &EditRequest,
        edit: &ValidatedEdit,
        target: &ProviderTarget,
        client: &UpstreamClient,
        deadline: tokio::time::Instant,
    ) -> Result<ProviderOutput, ApiError> {
        let permit = cap.acquire(self.slug(), deadline).await?;
        let target = ProviderTarget {
            timeout: deadline.saturating_duration_since(tokio::time::Instant::now()),
            ..target.clone()
        };
        let call = Call {
            provider: self,
            request,
            edit,
            target: &target,
            client,
            deadline,
        };
        match self.dispatch(&call).await? {
            ProviderOutput::Images(images) => Ok(ProviderOutput::Images(images)),
            ProviderOutput::Stream(mut stream) => {
                let body = stream.body;
                stream.body = Box::pin(body.map(move |chunk| {
                    // The permit lives as long as this closure, i.e. until the stream is dropped.
                    let _held = &permit;
                    chunk
                }));
                Ok(ProviderOutput::Stream(stream))
            }
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// Most upstream calls one request runs at once when `n` is fanned out.
pub const MAX_FAN_OUT: usize = 4;

/// Everything an adapter needs for one attempt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) provider: Provider,
    pub(crate) request: &'a EditRequest,
    pub(crate) edit: &'a ValidatedEdit,
    pub(crate) target: &'a ProviderTarget,
    pub(crate) client: &'a UpstreamClient,
    /// When the whole attempt must be over (`target.timeout` after it began).
    pub(crate) deadline: tokio::time::Instant,
}

impl Call<'_> {
    pub(crate) fn slug(&self) -> &'static str {
        self.provider.slug()
    }

    /// The base URL: the target's (Portkey `custom_host`) or the provider's default.
    pub(crate) fn base_url(&self) -> Result<Url, ApiError> {
        self.target
            .base_url
            .clone()
            .or_else(|| self.provider.default_base_url())
            .ok_or_else(|| {
                ApiError::invalid_request(
                    format!(
                        "The provider '{}' needs a base URL (custom_host).",
                        self.slug()
                    ),
                    None,
                )
                .with_code("missing_custom_host")
            })
    }

    /// `{base}/{path}`, keeping the base's own path (`https://host/v1` + `images/edits`).
    pub(crate) fn endpoint(&self, path: &str) -> Result<Url, ApiError> {
        join(&self.base_url()?, path)
    }

    /// The model to ask for: the target's override, else the request's.
    pub(crate) fn model(&self) -> Option<&str> {
        self.target
            .model
            .as_deref()
            .or(self.request.model.as_deref())
    }

    /// Sends `request` within the attempt's deadline and returns the body of a 2xx answer; any
    /// other status becomes the OpenAI-shaped error [`error::upstream_status`] makes of it.
    /// Under a concurrency cap the call first waits for a permit (out of the same deadline).
    pub(crate) async fn exchange(&self, request: RequestBuilder) -> Result<Bytes, ApiError> {
        let _permit = match &self.target.concurrency {
            Some(cap) => Some(cap.acquire(self.slug(), self.deadline).await?),
            None => None,
        };
        let left = self
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        let response = self.client.send(self.slug(), request, left).await?;
        if !response.status.is_success() {
            return Err(error::upstream_status(
                self,
                response.status.as_u16(),
                &response.headers,
                &response.body,
            ));
        }
        Ok(response.body)
    }

    /// [`Call::exchange`], then the body parsed as `T`; a body that does not parse is a
    /// malformed answer ("`what` is not the documented JSON: …").
    pub(crate) async fn exchange_json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> Result<T, ApiError> {
        let body = self.exchange(request).await?;
        serde_json::from_slice(&body)
            .map_err(|e| error::malformed(self, format!("{what} is not the documented JSON: {e}")))
    }

    /// Runs `one(i)` for `i` in `0..n`, at most [`MAX_FAN_OUT`] at once, keeping order.
    pub(crate) async fn fan_out<T, F, Fut>(&self, one: F) -> Result<Vec<T>, ApiError>
    where
        F: Fn(u32) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        futures_util::stream::iter(0..self.edit.n.max(1))
            .map(one)
            .buffered(MAX_FAN_OUT)
            .try_collect()
            .await
    }
}

/// Appends `path` to `base`'s path, whatever slashes either has.
pub(crate) fn join(base: &Url, path: &str) -> Result<Url, ApiError> {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.set_query(None);
    if url.cannot_be_a_base() {
        return Err(ApiError::invalid_request(
            format!("Invalid base URL '{base}'."),
            None,
        ));
    }
    Ok(url)
}

/// What an attempt produced.
#[derive(Debug)]
pub enum ProviderOutput {
    /// Finished images.
    Images(ProviderImages),
    /// The upstream's own `text/event-stream` (OpenAI family, `stream=true`), passed through.
    Stream(ProviderStream),
}

/// Finished images and what the upstream reported about them.
#[derive(Debug, Clone, Default)]
pub struct ProviderImages {
    /// The images, in order; `n` of them.
    pub images: Vec<ProviderImage>,
    /// The upstream's `usage` object, verbatim, when it sent one.
    pub usage: Option<serde_json::Value>,
    /// `size` as the upstream reported it (OpenAI family).
    pub size: Option<String>,
    /// `quality` as the upstream reported it.
    pub quality: Option<String>,
    /// `background` as the upstream reported it.
    pub background: Option<String>,
    /// `output_format` as the upstream reported it.
    pub output_format: Option<String>,
    /// `created` as the upstream reported it.
    pub created: Option<u64>,
    /// The upstream's request id (`x-request-id` and kin), for the response headers.
    pub upstream_request_id: Option<String>,
}

/// One result image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderImage {
    /// Decoded bytes, with their MIME type when the upstream said or it was sniffed.
    Bytes {
        /// The encoded image file.
        data: Bytes,
        /// e.g. `image/png`.
        mime: Option<String>,
    },
    /// A URL the upstream hosts (dall-e-2 `response_format=url`); see
    /// [`UpstreamClient::image_bytes`] to fetch it.
    Url(String),
}

/// An upstream SSE body, passed through chunk by chunk.
pub struct ProviderStream {
    /// The upstream's content type (`text/event-stream`).
    pub content_type: String,
    /// The upstream's request id.
    pub upstream_request_id: Option<String>,
    /// The body; an error ends it (the caller emits an SSE `error` event).
    pub body: Pin<Box<dyn Stream<Item = Result<Bytes, ApiError>> + Send>>,
}

impl fmt::Debug for ProviderStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderStream")
            .field("content_type", &self.content_type)
            .field("upstream_request_id", &self.upstream_request_id)
            .finish_non_exhaustive()
    }
}

/// The MIME type of image bytes, from their signature.
pub(crate) fn sniff_mime(bytes: &[u8]) -> Option<String> {
    retouch_api::sniff(bytes)
        .and_then(|f| f.supported())
        .map(|f| f.mime().to_owned())
}

/// The request's edit area, computed off the async runtime (it decodes images).
pub(crate) async fn edit_bitmap(
    request: &EditRequest,
) -> Result<(crate::mask::EditBitmap, crate::mask::MaskSource), ApiError> {
    let first = request
        .images
        .first()
        .cloned()
        .ok_or_else(|| ApiError::missing_param("image"))?;
    let mask = request.mask.clone();
    tokio::task::spawn_blocking(move || {
        crate::mask::EditBitmap::from_files(
            &first,
            mask.as_ref(),
            &retouch_api::DecodeLimits::default(),
        )
    })
    .await
    .map_err(|e| ApiError::internal(format!("mask task failed: {e}")))?
}

/// A random seed base for fanned-out calls, or the caller's `seed` field.
pub(crate) fn seed_base(request: &EditRequest) -> Option<u64> {
    request
        .extra
        .iter()
        .find(|(name, _)| name == "seed")
        .and_then(|(_, v)| v.trim().trim_matches('"').parse().ok())
}

/// Merges `overrides` into `target`: objects key by key, everything else replaced.
pub(crate) fn merge_json(
    target: &mut serde_json::Value,
    overrides: &serde_json::Map<String, serde_json::Value>,
) {
    let serde_json::Value::Object(object) = target else {
        return;
    };
    for (key, value) in overrides {
        match (object.get_mut(key), value) {
            (Some(existing @ serde_json::Value::Object(_)), serde_json::Value::Object(inner)) => {
                merge_json(existing, inner)
            }
            (Some(_) | None, _) => {
                object.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A JSON override value as a form field's text; `null` removes the field.
pub(crate) fn field_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(_)
        | serde_json::Value::Number(_)
        | serde_json::Value::Array(_)
        | serde_json::Value::Object(_) => Some(value.to_string()),
    }
}
