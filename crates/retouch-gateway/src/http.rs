//! The shared upstream HTTP client: one pooled reqwest client (rustls) behind the SSRF guard,
//! with connect/read timeouts, per-attempt deadlines, and bounded response bodies.
//!
//! Every adapter sends through [`UpstreamClient`], so every outbound request gets the same
//! guarantees: the URL is checked ([`SsrfPolicy::check_url`]), host names resolve only to checked
//! addresses ([`GuardedResolver`]), redirects are re-checked, no system proxy can route around
//! the guard, responses larger than the limit are cut off, and transport failures become
//! OpenAI-shaped errors naming the provider (502 unreachable/malformed, 504 timeout).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode, redirect};
use retouch_api::ApiError;
use url::Url;

use crate::providers::ProviderImage;
use crate::ssrf::{GuardedResolver, Lookup, SsrfPolicy, find_ssrf_error};

/// How the upstream client is built.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Which outbound addresses are allowed. Default: public addresses and loopback.
    pub ssrf: SsrfPolicy,
    /// TCP + TLS connect timeout. Default: 10 s.
    pub connect_timeout: Duration,
    /// Longest pause between two reads of a response (also bounds streamed responses).
    /// Default: 120 s.
    pub read_timeout: Duration,
    /// Largest upstream response body read into memory (JSON with base64 images). Default: 256 MiB.
    pub max_response_bytes: usize,
    /// Largest result image downloaded from a provider URL. Default: 64 MiB.
    pub max_download_bytes: usize,
    /// Deadline for one download of a result URL. Default: 60 s.
    pub download_timeout: Duration,
    /// Idle pooled connections kept per host. Default: 32.
    pub pool_idle_per_host: usize,
    /// Host names answered without DNS (like curl's `--resolve`); still checked by the guard.
    pub pinned_hosts: Vec<(String, Vec<IpAddr>)>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        Self {
            ssrf: SsrfPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            max_response_bytes: 256 * 1024 * 1024,
            max_download_bytes: 64 * 1024 * 1024,
            download_timeout: Duration::from_secs(60),
            pool_idle_per_host: 32,
            pinned_hosts: Vec::new(),
        }
    }
}

/// Why the client could not be built (a TLS backend failure; startup only).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the upstream HTTP client: {0}")]
pub struct ClientBuildError(#[from] reqwest::Error);

/// The pooled client every provider adapter uses. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    client: reqwest::Client,
    policy: Arc<SsrfPolicy>,
    config: Arc<UpstreamConfig>,
}

/// A fully read upstream response.
#[derive(Debug)]
pub(crate) struct UpstreamResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// The upstream's request id (`x-request-id`, or Azure's `apim-request-id`).
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    ["x-request-id", "apim-request-id", "request-id"]
        .iter()
        .find_map(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
}

impl UpstreamClient {
    /// Builds the client.
    pub fn new(config: UpstreamConfig) -> Result<Self, ClientBuildError> {
        let policy = Arc::new(config.ssrf.clone());
        let resolver = GuardedResolver::new(
            Arc::clone(&policy),
            Lookup::with_pinned(&config.pinned_hosts),
        );
        let redirect_policy = {
            let policy = Arc::clone(&policy);
            redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error("too many redirects");
                }
                match policy.check_url(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(error) => attempt.error(error),
                }
            })
        };
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(resolver))
            .no_proxy()
            .redirect(redirect_policy)
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .pool_max_idle_per_host(config.pool_idle_per_host)
            .user_agent(concat!("retouch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            policy,
            config: Arc::new(config),
        })
    }

    /// The SSRF policy in force, for callers that validate a `custom_host` up front.
    pub fn ssrf_policy(&self) -> &SsrfPolicy {
        &self.policy
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &UpstreamConfig {
        &self.config
    }

    /// Starts a request after checking its URL with the SSRF policy.
    pub(crate) fn request(
        &self,
        provider: &str,
        method: Method,
        url: &Url,
    ) -> Result<RequestBuilder, ApiError> {
        self.policy
            .check_url(url)
            .map_err(|e| e.to_api_error(provider))?;
        Ok(self.client.request(method, url.clone()))
    }

    /// Sends a request and reads the whole response (bounded), all within `timeout`.
    pub(crate) async fn send(
        &self,
        provider: &str,
        request: RequestBuilder,
        timeout: Duration,
    ) -> Result<UpstreamResponse, ApiError> {
        let limit = self.config.max_response_bytes;
        let exchange = async {
            let response = request
                .send()
                .await
                .map_err(|e| transport_error(provider, &e))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = read_bounded(provider, response, limit).await?;
            Ok(UpstreamResponse {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(ApiError::gateway_timeout(provider)))
    }

    /// Sends a request and returns the response once its headers arrive (for streaming), the
    /// wait bounded by `timeout`; the body is then bounded by the read timeout between chunks.
    pub(crate) async fn send_streaming(
        &self,
        provider: &str,
        request: RequestBuilder,
        timeout: Duration,
    ) -> Result<reqwest::Response, ApiError> {
        tokio::time::timeout(timeout, request.send())
            .await
            .map_err(|_| ApiError::gateway_timeout(provider))?
            .map_err(|e| transport_error(provider, &e))
    }

    /// Reads a response body into memory, refusing more than the configured limit.
    pub(crate) async fn read_body(
        &self,
        provider: &str,
        response: reqwest::Response,
    ) -> Result<Bytes, ApiError> {
        read_bounded(provider, response, self.config.max_response_bytes).await
    }

    /// Downloads a provider's result URL (bounded in size and time, SSRF-checked).
    pub async fn download(&self, provider: &str, url: &str) -> Result<Bytes, ApiError> {
        let url = Url::parse(url).map_err(|e| {
            ApiError::bad_gateway(provider, format!("result URL is not a URL: {e}"))
        })?;
        let request = self.request(provider, Method::GET, &url)?;
        let limit = self.config.max_download_bytes;
        let exchange = async {
            let response = request
                .send()
                .await
                .map_err(|e| transport_error(provider, &e))?;
            if !response.status().is_success() {
                return Err(ApiError::bad_gateway(
                    provider,
                    format!(
                        "downloading a result image answered HTTP {}",
                        response.status()
                    ),
                ));
            }
            read_bounded(provider, response, limit).await
        };
        tokio::time::timeout(self.config.download_timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(ApiError::gateway_timeout(provider)))
    }

    /// A result image's bytes: downloaded when the provider answered with a URL (for callers
    /// that want `b64_json`), as is when it sent bytes. Callers that want `url` re-host bytes in
    /// their store instead.
    pub async fn image_bytes(
        &self,
        provider: &str,
        image: &ProviderImage,
    ) -> Result<Bytes, ApiError> {
        match image {
            ProviderImage::Bytes { data, .. } => Ok(data.clone()),
            ProviderImage::Url(url) => self.download(provider, url).await,
        }
    }
}

async fn read_bounded(
    provider: &str,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::bad_gateway(
            provider,
            format!("upstream response is larger than {limit} bytes"),
        )
    };
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(response.content_length().map_or(0, |n| n as usize));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(provider, &e))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A transport failure as the client sees it: SSRF refusals are 400, timeouts 504, everything
/// else (refused, reset, TLS, bad HTTP) 502. The reqwest error text can carry the URL, never a
/// key (keys travel in headers), but it stays in `detail` regardless.
pub(crate) fn transport_error(provider: &str, error: &reqwest::Error) -> ApiError {
    if let Some(ssrf) = find_ssrf_error(error) {
        return ssrf.to_api_error(provider);
    }
    if error.is_timeout() {
        return ApiError::gateway_timeout(provider).with_detail(error.to_string());
    }
    let what = if error.is_connect() {
        "could not be reached"
    } else {
        "failed while answering"
    };
    ApiError::bad_gateway(provider, error_chain(error))
        .with_code("upstream_unreachable")
        .with_status(502)
        .with_message(format!("The upstream provider '{provider}' {what}."))
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        text.push_str(": ");
        text.push_str(&e.to_string());
        current = e.source();
    }
    text
}

/// Replaces an error's message (a local helper; `ApiError` has no setter for it).
trait WithMessage {
    fn with_message(self, message: String) -> Self;
}

impl WithMessage for ApiError {
    fn with_message(mut self, message: String) -> Self {
        self.message = message;
        self
    }
}
