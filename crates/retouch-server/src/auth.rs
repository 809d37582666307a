//! Gateway-key authentication for `/v1/*`: who is calling ([`Caller`]), and the middleware
//! that answers 401 in OpenAI's shape when a key is required and missing, unknown or revoked.
//!
//! Auth is required once the state store holds a live gateway key, or when the operator asks
//! for it (`--require-auth`). Both the "any keys?" answer and each verified key are cached
//! in process for a short TTL (5 s by default), so a key created or revoked with `retouch keys`
//! against the same database takes effect on every replica within seconds, without a database
//! round trip on every request. The cache ([`TtlCache`], bounded) is keyed by the key's
//! SHA-256; the clear key is never stored, logged or echoed (a 401 shows at most its first
//! eight characters).
//!
//! `/health`, the playground's static files and `/images/{key}` (authorized by its signature)
//! are outside this layer.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use http::{HeaderMap, header};
use retouch_api::{ApiError, ErrorKind};
use retouch_store::{GATEWAY_KEY_PREFIX, StateStore, StoreError};
use sha2::{Digest as _, Sha256};

use crate::error::ErrorResponse;
use crate::state::AppState;
use crate::ttl_cache::TtlCache;

/// Who made a request: the gateway key that authenticated it, or nobody (auth not required).
/// Inserted as a request extension on every `/v1/*` request; the rate limiter and usage
/// records read it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Caller {
    /// The gateway key's id (`gk_…`), when one authenticated the request.
    pub(crate) key_id: Option<String>,
    /// The key's operator-given name.
    pub(crate) key_name: Option<String>,
}

/// How the gateway authenticates callers.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// Require a gateway key even while the store holds none (every `/v1` request is then 401
    /// until one is created).
    pub require_auth: bool,
    /// How long "are there keys?" and each verified key are trusted before the store is asked
    /// again; a revoke takes effect within this time. Default 5 s.
    pub cache_ttl: Duration,
}

impl Default for AuthOptions {
    fn default() -> Self {
        Self {
            require_auth: false,
            cache_ttl: Duration::from_secs(5),
        }
    }
}

/// The key check, with its caches. One per server.
#[derive(Debug)]
pub(crate) struct Authenticator {
    store: StateStore,
    options: AuthOptions,
    /// When the store was last asked whether live keys exist, and its answer.
    keys_exist: Mutex<(Instant, bool)>,
    /// Set while one request refreshes `keys_exist`; the others use the last answer.
    refreshing: AtomicBool,
    /// SHA-256 of a presented key → the caller it verified as.
    verified: TtlCache<[u8; 32], Caller>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Authenticator {
    /// Asks the store once whether keys exist, so the first request already knows.
    pub(crate) async fn new(store: StateStore, options: AuthOptions) -> Result<Self, StoreError> {
        let exist = store.has_gateway_keys().await?;
        Ok(Self {
            verified: TtlCache::new(options.cache_ttl),
            store,
            options,
            keys_exist: Mutex::new((Instant::now(), exist)),
            refreshing: AtomicBool::new(false),
        })
    }

    /// Whether a request must carry a valid key (as of the last refresh).
    pub(crate) async fn required(&self) -> bool {
        if self.options.require_auth {
            return true;
        }
        let (checked, exist) = *lock(&self.keys_exist);
        if checked.elapsed() < self.options.cache_ttl {
            return exist;
        }
        if self
            .refreshing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return exist;
        }
        // Cleared on drop: if this request is abandoned mid-query, the next one refreshes.
        let _refreshing = ClearOnDrop(&self.refreshing);
        let fresh = match self.store.has_gateway_keys().await {
            Ok(fresh) => fresh,
            Err(error) => {
                // Keep the last answer: an outage must neither open the gateway nor lock
                // everyone out because of one failed query.
                tracing::warn!(%error, "could not check for gateway keys; keeping the last answer");
                exist
            }
        };
        *lock(&self.keys_exist) = (Instant::now(), fresh);
        fresh
    }

    /// Who the request's headers say is calling, or the 401/503 to answer.
    pub(crate) async fn check(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let presented = gateway_key(headers);
        let required = self.required().await;
        let Some(key) = presented else {
            if !required {
                return Ok(Caller::default());
            }
            return Err(missing_key(any_key(headers)));
        };
        // A presented gateway key is always checked, even when auth is optional: a client that
        // believes it authenticates should hear that its key is wrong.
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        if let Some(caller) = self.verified.get(&digest) {
            return Ok(caller);
        }
        let found = self.store.verify_gateway_key(key).await.map_err(|error| {
            ApiError::unavailable(
                "The gateway could not check your API key right now. Retry the request.",
                Some(Duration::from_secs(1)),
            )
            .with_detail(format!("verifying a gateway key: {error}"))
        })?;
        match found {
            Some(record) => {
                let caller = Caller {
                    key_id: Some(record.id),
                    key_name: Some(record.name),
                };
                self.verified.insert(digest, caller.clone());
                Ok(caller)
            }
            None => {
                self.verified.remove(&digest);
                Err(incorrect_key(key))
            }
        }
    }
}

/// Clears a flag when dropped.
struct ClearOnDrop<'a>(&'a AtomicBool);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The `Bearer` token of `Authorization`, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// `x-portkey-api-key`, if any.
pub(crate) fn portkey_api_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-portkey-api-key")?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// Whether `key` is meant for this gateway (and so must never be forwarded to a provider).
/// The prefix alone decides, so a mistyped gateway key is refused rather than sent upstream.
pub(crate) fn is_gateway_key(key: &str) -> bool {
    key.starts_with(GATEWAY_KEY_PREFIX)
}

/// The gateway key a request presents: `Authorization: Bearer rtk_…`, else
/// `x-portkey-api-key: rtk_…` (the Portkey SDK's place for the gateway's own key).
fn gateway_key(headers: &HeaderMap) -> Option<&str> {
    bearer(headers)
        .filter(|k| is_gateway_key(k))
        .or_else(|| portkey_api_key(headers).filter(|k| is_gateway_key(k)))
}

fn any_key(headers: &HeaderMap) -> bool {
    bearer(headers).is_some() || portkey_api_key(headers).is_some()
}

/// 401 for a request without a gateway key: OpenAI's "You didn't provide an API key" (type
/// `invalid_request_error`, code `null`), naming where ours go.
fn missing_key(sent_other_key: bool) -> ApiError {
    let message = if sent_other_key {
        "You didn't provide a gateway API key. This server requires a gateway key (rtk_…) in an \
         Authorization header using Bearer auth (i.e. Authorization: Bearer rtk_…) or in the \
         x-portkey-api-key header; the key you sent is not a gateway key. A provider key can \
         go in the other of the two headers."
    } else {
        "You didn't provide an API key. You need to provide your gateway key in an \
         Authorization header using Bearer auth (i.e. Authorization: Bearer rtk_…), or in the \
         x-portkey-api-key header. The server's operator can create one with \
         `retouch keys create`."
    };
    ApiError::new(401, ErrorKind::Authentication, message)
}

/// 401 for an unknown or revoked key, showing only a short masked prefix of it.
fn incorrect_key(key: &str) -> ApiError {
    ApiError::unauthorized(format!(
        "Incorrect API key provided: {}. Ask the server's operator for a valid gateway key \
         (`retouch keys list` shows them; revoked keys stay invalid).",
        mask(key)
    ))
}

/// `rtk_1a2b****`: the first eight characters when they are plain ASCII, else nothing.
fn mask(key: &str) -> String {
    let shown = key
        .get(..8)
        .filter(|p| key.len() > 12 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or("");
    format!("{shown}****")
}

/// Middleware on `/v1/*`: verifies the caller's key when one is required (or presented) and
/// records the [`Caller`] for the handlers and layers inside.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match state.accounts() {
        None => Caller::default(),
        Some(accounts) => match accounts.auth().check(request.headers()).await {
            Ok(caller) => caller,
            Err(error) => return ErrorResponse(error).into_response(),
        },
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn gateway_key_comes_from_bearer_then_portkey_header() {
        let both = headers(&[
            ("authorization", "Bearer rtk_aaa"),
            ("x-portkey-api-key", "rtk_bbb"),
        ]);
        assert_eq!(gateway_key(&both), Some("rtk_aaa"));
        let sdk = headers(&[
            ("authorization", "Bearer sk-provider"),
            ("x-portkey-api-key", "rtk_bbb"),
        ]);
        assert_eq!(gateway_key(&sdk), Some("rtk_bbb"));
        let provider_only = headers(&[("authorization", "bearer sk-provider")]);
        assert_eq!(gateway_key(&provider_only), None);
        assert!(any_key(&provider_only));
        assert_eq!(bearer(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(bearer(&headers(&[("authorization", "Bearer   ")])), None);
    }

    #[tokio::test]
    async fn an_abandoned_refresh_does_not_stop_later_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::connect_sqlite_file(&dir.path().join("s.db"))
            .await
            .unwrap();
        let auth = Authenticator::new(
            store.clone(),
            AuthOptions {
                require_auth: false,
                cache_ttl: Duration::from_millis(1),
            },
        )
        .await
        .unwrap();
        assert!(!auth.required().await);
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Hold every pooled connection so the refresh must wait; poll it once and drop it.
        let StateStore::Sqlite(pool) = &store else {
            unreachable!("a SQLite store")
        };
        let mut held = Vec::new();
        while let Some(connection) = pool.try_acquire() {
            held.push(connection);
        }
        for _ in held.len()..pool.options().get_max_connections() as usize {
            held.push(pool.acquire().await.unwrap());
        }
        let mut abandoned = Box::pin(auth.required());
        let first = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(abandoned.as_mut().poll(cx).is_pending())
        })
        .await;
        assert!(first, "the refresh waits for the database");
        assert!(auth.refreshing.load(Ordering::Acquire));
        drop(abandoned);
        drop(held);
        assert!(!auth.refreshing.load(Ordering::Acquire));
        store.create_gateway_key("k").await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            auth.required().await,
            "a later request refreshed the answer"
        );
    }

    #[test]
    fn masks_show_a_short_prefix_only() {
        let key = format!("rtk_{}", "ab12".repeat(16));
        let masked = mask(&key);
        assert_eq!(masked, "rtk_ab12****");
        assert!(!masked.contains(&key[8..16]));
        assert_eq!(mask("rtk_short"), "****");
        assert_eq!(mask("rtk_\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"), "****");
        let error = incorrect_key(&key);
        assert!(!error.message.contains(&key[8..]));
        assert_eq!(error.status, 401);
        assert_eq!(error.code.as_deref(), Some("invalid_api_key"));
        let missing = missing_key(false);
        assert_eq!(missing.code, None);
        assert!(
            missing
                .message
                .starts_with("You didn't provide an API key.")
        );
    }
}
