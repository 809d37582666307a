//! What the server keeps in its state store, behind one handle: gateway-key auth, virtual
//! keys (decrypted on demand for the gateway), saved configs by id, and usage records.
//!
//! A server without [`Accounts`] (tests, embedders) is open, knows no virtual keys or saved
//! configs, and records no usage; `retouch serve` always builds one.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use retouch_api::ApiError;
use retouch_gateway::config::{VirtualCredential, VirtualKeys};
use retouch_gateway::{RouteConfig, Secret};
use retouch_store::{MasterKey, StateStore, StoreError};

use crate::auth::{AuthOptions, Authenticator};
use crate::ttl_cache::TtlCache;
use crate::usage::UsageSink;

/// The state store and the master key, with the caches and background writer built on them.
/// Shared by every request (held in an `Arc` by the app state).
pub struct Accounts {
    store: StateStore,
    auth: Authenticator,
    vault: Arc<Vault>,
    usage: UsageSink,
    /// Saved configs by id (parsed), or that there is none, for the auth cache's TTL.
    configs: TtlCache<String, Option<RouteConfig>>,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("store", &self.store)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// Builds the handle and starts the usage writer (so it must run inside a Tokio runtime).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the store cannot say whether gateway keys exist.
    pub async fn new(
        store: StateStore,
        master: MasterKey,
        auth: AuthOptions,
    ) -> Result<Self, StoreError> {
        let ttl = auth.cache_ttl;
        Ok(Self {
            auth: Authenticator::new(store.clone(), auth).await?,
            vault: Arc::new(Vault {
                store: store.clone(),
                master,
                cache: TtlCache::new(ttl),
            }),
            configs: TtlCache::new(ttl),
            usage: UsageSink::start(store.clone()),
            store,
        })
    }

    /// Whether `/v1` requests need a gateway key right now (keys exist, or it was required).
    pub async fn auth_required(&self) -> bool {
        self.auth.required().await
    }

    pub(crate) fn auth(&self) -> &Authenticator {
        &self.auth
    }

    pub(crate) fn usage(&self) -> &UsageSink {
        &self.usage
    }

    /// The resolver the gateway asks for `virtual_key` ids.
    pub(crate) fn virtual_keys(&self) -> Arc<dyn VirtualKeys> {
        Arc::clone(&self.vault) as Arc<dyn VirtualKeys>
    }

    /// The config saved in the store under `id`, validated; `Ok(None)` when there is none.
    /// Answers (found or not) are cached for the auth cache's TTL, so a config saved or
    /// deleted with `retouch configs` takes effect within seconds on every replica.
    pub(crate) async fn saved_config(&self, id: &str) -> Result<Option<RouteConfig>, ApiError> {
        if let Some(cached) = self.configs.get(id) {
            return Ok(cached);
        }
        let saved =
            self.store.get_config(id).await.map_err(|error| {
                ApiError::internal(format!("reading saved config '{id}': {error}"))
            })?;
        let parsed = match saved {
            // Checked when it was saved; checked again in case this version reads configs
            // differently from the one that saved it. Not cached: the error is the answer
            // until someone fixes the config.
            Some(saved) => Some(RouteConfig::from_json(&saved.body).map_err(|e| {
                ApiError::invalid_request(
                    format!("Invalid config: the config saved as '{id}' no longer validates: {e}"),
                    Some("x-portkey-config"),
                )
                .with_code("invalid_config")
            })?),
            None => None,
        };
        self.configs.insert(id.to_owned(), parsed.clone());
        Ok(parsed)
    }
}

/// Virtual keys in the store, decrypted with the master key when a target uses one. The
/// decrypted credential (or that the id is unknown) is cached for the auth cache's TTL, in
/// memory only, so a busy virtual key costs one query and one decryption per TTL.
struct Vault {
    store: StateStore,
    master: MasterKey,
    cache: TtlCache<String, Option<VirtualCredential>>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vault")
    }
}

impl VirtualKeys for Vault {
    fn resolve<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<VirtualCredential>, ApiError>> {
        Box::pin(async move {
            if let Some(cached) = self.cache.get(id) {
                return Ok(cached);
            }
            let found = self
                .store
                .get_virtual_key_decrypted(&self.master, id)
                .await
                // The error names the id and what failed (database, wrong master key), never
                // the secret: the store's messages hold none.
                .map_err(|error| ApiError::internal(format!("virtual key '{id}': {error}")))?;
            let credential = found.map(|(record, secret)| VirtualCredential {
                provider: record.provider,
                api_key: Secret::new(secret.expose()),
            });
            self.cache.insert(id.to_owned(), credential.clone());
            Ok(credential)
        })
    }
}
