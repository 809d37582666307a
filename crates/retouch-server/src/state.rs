//! Shared, read-mostly state handed to every handler.

use std::sync::Arc;
use std::time::Duration;

use retouch_gateway::Gateway;
use retouch_store::ImageStore;

use crate::accounts::Accounts;
use crate::ratelimit::{RateLimitState, RateLimits};
use crate::shutdown::Shutdown;

/// Bounds on what one request may send. Checked while the body streams in.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Whole request body. Default 64 MiB.
    pub max_body_bytes: u64,
    /// One file part (an image or the mask). Default 50 MiB, OpenAI's limit for GPT image models.
    pub max_file_bytes: u64,
    /// One text part. Default 256 KiB (a 32,000-character prompt is at most 128 KiB of UTF-8).
    pub max_text_bytes: u64,
    /// Parts in one multipart body. Default 64 (16 images, a mask and every text field).
    pub max_parts: usize,
    /// Longest wait for the next piece of the body. Default 15 s.
    pub body_idle_timeout: Duration,
    /// Longest time the whole body may take to arrive. Default 120 s.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024 * 1024,
            max_file_bytes: 50 * 1024 * 1024,
            max_text_bytes: 256 * 1024,
            max_parts: 64,
            body_idle_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(120),
        }
    }
}

/// Everything a handler may need. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    /// The state store's services; `None` serves without auth, virtual keys, saved configs
    /// or usage records.
    accounts: Option<Arc<Accounts>>,
    /// Per-caller request limits; `None` when no limit is set.
    rate_limits: Option<Arc<RateLimitState>>,
}

#[derive(Debug)]
struct Inner {
    gateway: Gateway,
    store: ImageStore,
    limits: Limits,
    shutdown: Shutdown,
    public_url: Option<String>,
}

impl AppState {
    /// Assembles the state. `public_url` (e.g. `https://images.example.com`) prefixes hosted
    /// image links; without it links use the request's `Host`.
    pub fn new(
        gateway: Gateway,
        store: ImageStore,
        limits: Limits,
        shutdown: Shutdown,
        public_url: Option<String>,
    ) -> Self {
        let public_url = public_url.map(|url| url.trim_end_matches('/').to_owned());
        Self {
            inner: Arc::new(Inner {
                gateway,
                store,
                limits,
                shutdown,
                public_url,
            }),
            accounts: None,
            rate_limits: None,
        }
    }

    /// Sets per-caller rate limits on `/v1/images/edits` (no limit is the default).
    #[must_use]
    pub fn with_rate_limits(mut self, limits: RateLimits) -> Self {
        self.rate_limits = limits
            .is_enabled()
            .then(|| Arc::new(RateLimitState::new(limits)));
        self
    }

    pub(crate) fn rate_limits(&self) -> Option<&RateLimitState> {
        self.rate_limits.as_deref()
    }

    /// Adds the state store's services: gateway-key auth on `/v1`, virtual keys, saved
    /// configs by id, usage records.
    #[must_use]
    pub fn with_accounts(mut self, accounts: Accounts) -> Self {
        self.accounts = Some(Arc::new(accounts));
        self
    }

    pub(crate) fn accounts(&self) -> Option<&Accounts> {
        self.accounts.as_deref()
    }

    pub(crate) fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    pub(crate) fn store(&self) -> &ImageStore {
        &self.inner.store
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub(crate) fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    pub(crate) fn public_url(&self) -> Option<&str> {
        self.inner.public_url.as_deref()
    }
}
