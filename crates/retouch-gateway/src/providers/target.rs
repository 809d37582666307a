//! Where and how one attempt calls a provider: base URL, credential, Azure settings, forwarded
//! headers, parameter overrides, model override, deadline.

use std::fmt;
use std::time::Duration;

use reqwest::RequestBuilder;
use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

use crate::limits::ConcurrencyCap;

/// A provider credential. Its `Debug` and `Display` print `***`; the value is only ever written
/// into the auth header of the request to the provider it belongs to, and scrubbed from any
/// upstream message that echoes it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which Azure OpenAI URL style to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureApi {
    /// `{endpoint}/openai/deployments/{deployment}/images/edits?api-version={api_version}`; the
    /// deployment picks the model.
    Deployment {
        /// The deployment name.
        deployment: String,
        /// e.g. `2025-04-01-preview`.
        api_version: String,
    },
    /// `{endpoint}/openai/v1/images/edits?api-version={api_version}`; the `model` field names
    /// the deployment.
    V1 {
        /// `preview` by default.
        api_version: String,
    },
}

/// Azure OpenAI settings (Portkey's `x-portkey-azure-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSettings {
    /// The resource name: the endpoint is `https://{resource}.openai.azure.com` unless the
    /// target's `base_url` names another.
    pub resource: Option<String>,
    /// The URL style.
    pub api: AzureApi,
    /// Send the key as `Authorization: Bearer` (an Entra ID token) instead of `api-key`.
    pub entra_token: bool,
}

/// The default Azure API version for deployment URLs (the first with gpt-image edits).
pub const AZURE_DEFAULT_API_VERSION: &str = "2025-04-01-preview";

/// One destination for an attempt.
#[derive(Debug, Clone)]
pub struct ProviderTarget {
    /// Base URL (Portkey `custom_host`); `None` uses the provider's default. For OpenAI include
    /// the version path, as for `https://api.openai.com/v1`.
    pub base_url: Option<Url>,
    /// The provider credential; for AUTOMATIC1111 `user:password` (HTTP Basic).
    pub api_key: Option<Secret>,
    /// Azure settings (Azure OpenAI only).
    pub azure: Option<AzureSettings>,
    /// Client headers to copy onto the upstream request (Portkey `forward_headers`). Auth and
    /// hop-by-hop headers are never forwarded, so a forwarded header cannot replace the key.
    pub forward_headers: Vec<(HeaderName, HeaderValue)>,
    /// Parameters merged into the provider's request: replace or add multipart fields for the
    /// OpenAI family and Stability, merged into the JSON body for A1111, Gemini and IOPaint.
    pub override_params: serde_json::Map<String, serde_json::Value>,
    /// Model to ask for instead of the request's.
    pub model: Option<String>,
    /// Deadline for the whole attempt (all fanned-out calls, and waits for `concurrency`,
    /// included).
    pub timeout: Duration,
    /// The configured provider's cap on concurrent upstream calls (`max_concurrency`).
    pub concurrency: Option<ConcurrencyCap>,
}

impl Default for ProviderTarget {
    fn default() -> Self {
        Self {
            base_url: None,
            api_key: None,
            azure: None,
            forward_headers: Vec::new(),
            override_params: serde_json::Map::new(),
            model: None,
            timeout: Duration::from_secs(120),
            concurrency: None,
        }
    }
}

/// Headers a forwarded header may not set: credentials, and what the HTTP client owns.
const NEVER_FORWARDED: [&str; 12] = [
    "authorization",
    "api-key",
    "x-api-key",
    "x-goog-api-key",
    "proxy-authorization",
    "cookie",
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "accept-encoding",
];

impl ProviderTarget {
    /// A target at `base_url` with `api_key`, defaults elsewhere.
    pub fn new(base_url: Option<Url>, api_key: Option<Secret>) -> Self {
        Self {
            base_url,
            api_key,
            ..Self::default()
        }
    }

    /// Adds the forwarded headers to a request.
    pub(crate) fn apply_forward_headers(&self, mut request: RequestBuilder) -> RequestBuilder {
        for (name, value) in &self.forward_headers {
            if !NEVER_FORWARDED.contains(&name.as_str()) && !name.as_str().starts_with("x-portkey-")
            {
                request = request.header(name.clone(), value.clone());
            }
        }
        request
    }
}
