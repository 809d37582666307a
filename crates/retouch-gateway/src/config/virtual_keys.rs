//! Virtual keys as the router sees them: an id (`x-portkey-virtual-key`, or a target's
//! `virtual_key`) that the server resolves to a provider and its credential.
//!
//! The gateway does not know where virtual keys live (the server keeps them encrypted in its
//! state store); it asks a [`VirtualKeys`] resolver, and only for the targets it actually
//! tries, so a fallback chain never decrypts keys it does not use.

use std::fmt;

use futures_util::future::BoxFuture;
use retouch_api::ApiError;

use crate::providers::Secret;

/// A resolved virtual key: which provider it is for, and the credential itself.
#[derive(Debug, Clone)]
pub struct VirtualCredential {
    /// The provider slug recorded with the key (`openai`, `stability-ai`, …).
    pub provider: String,
    /// The provider credential; only ever written into that provider's auth header.
    pub api_key: Secret,
}

/// Looks virtual keys up by id.
pub trait VirtualKeys: Send + Sync + fmt::Debug {
    /// The key stored under `id`, `Ok(None)` when there is none.
    ///
    /// # Errors
    /// An OpenAI-shaped error when the store cannot answer or the key cannot be decrypted;
    /// it must never contain the credential.
    fn resolve<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<VirtualCredential>, ApiError>>;
}

/// The 400 for a virtual key id that resolves to nothing (or with no resolver configured).
pub(crate) fn unknown(id: &str, path: &str) -> ApiError {
    // Ids are operator-chosen slugs, but the header is caller text: echo only a safe one.
    let shown = if id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        format!(" '{id}'")
    } else {
        String::new()
    };
    ApiError::invalid_request(
        format!(
            "Invalid virtual key: no virtual key{shown} exists on this server ({path}.virtual_key). \
             Create one with `retouch virtual-keys add`, or send the provider key instead."
        ),
        Some("x-portkey-virtual-key"),
    )
    .with_code("invalid_virtual_key")
}
