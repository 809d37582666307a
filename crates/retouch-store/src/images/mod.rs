//! Hosted result images: [`ImageStore`] puts encoded images into an object store, hands out
//! signed expiring links to them, serves them back to whoever holds a valid link, and sweeps
//! them away once every link to them has expired.
//!
//! Lifetime model: a link is minted right after `put` (the server does both in one request)
//! and is valid for `ttl`. An object older than `ttl + grace` (by its store modification time)
//! can therefore have no valid link left, and [`ImageStore::sweep`] deletes it. The grace
//! covers the gap between `put` and signing, and clock skew between replicas and the store.
//!
//! The store does not spawn tasks itself; the server runs [`ImageStore::sweep_every`] on its
//! runtime (and drops it at shutdown).

mod key;
mod link;
mod location;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt as _, TryStreamExt as _};
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, Attributes, ObjectStore, PutOptions};

pub use key::{ImageExt, ImageKey, InvalidKey, UnknownExt};
pub use link::{LinkError, LinkSigner, MIN_SECRET_LEN};
pub use location::StoreLocation;

use crate::StoreError;
use link::unix_secs;

/// Default link lifetime (issue 3: 60 minutes).
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(60 * 60);
/// How long past link expiry an object is kept before the sweep deletes it.
pub const DEFAULT_SWEEP_GRACE: Duration = Duration::from_secs(5 * 60);

/// The hosted-image store. Cheap to clone (shared backend).
#[derive(Clone)]
pub struct ImageStore {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    attributes: bool,
    signer: LinkSigner,
    ttl: Duration,
    grace: Duration,
    location: Arc<str>,
}

impl fmt::Debug for ImageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageStore")
            .field("location", &self.location)
            .field("ttl", &self.ttl)
            .field("grace", &self.grace)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

/// An image read back from the store, body streamed.
pub struct StoredImage {
    /// `Content-Type` to serve, from the key's extension.
    pub content_type: &'static str,
    /// Body length in bytes (`Content-Length`).
    pub size: u64,
    /// When the object was written.
    pub last_modified: SystemTime,
    /// The body, in chunks as the backend delivers them.
    pub body: BoxStream<'static, Result<Bytes, StoreError>>,
}

impl fmt::Debug for StoredImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredImage")
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("last_modified", &self.last_modified)
            .finish_non_exhaustive()
    }
}

impl StoredImage {
    /// Collects the whole body (for tests and small images; the server should stream `body`).
    ///
    /// # Errors
    /// Whatever the backend reports mid-read.
    pub async fn bytes(self) -> Result<Bytes, StoreError> {
        let mut out = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
        let mut body = self.body;
        while let Some(chunk) = body.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(Bytes::from(out))
    }
}

impl ImageStore {
    /// Opens the store at `location` (creating a local directory if needed). Links are signed
    /// by `signer` and valid for `ttl`; the sweep grace is [`DEFAULT_SWEEP_GRACE`].
    ///
    /// # Errors
    /// [`StoreError::Io`] when a local directory cannot be created, [`StoreError::Backend`]
    /// when the backend cannot be configured (e.g. S3 without a bucket or with a bad endpoint).
    /// Nothing is sent over the network here; S3 credentials are first used by `put`.
    pub async fn open(
        location: &StoreLocation,
        signer: LinkSigner,
        ttl: Duration,
    ) -> Result<Self, StoreError> {
        let location_text = location.to_string();
        let location = location.clone();
        let backend = tokio::task::spawn_blocking(move || location.open_backend())
            .await
            .map_err(|e| StoreError::InvalidLocation(format!("opening the store failed: {e}")))??;
        Ok(Self {
            store: backend.store,
            prefix: backend.prefix,
            attributes: backend.attributes,
            signer,
            ttl,
            grace: DEFAULT_SWEEP_GRACE,
            location: location_text.into(),
        })
    }

    /// Replaces the sweep grace (how long after link expiry an object is still kept).
    #[must_use]
    pub fn with_sweep_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How long links are valid.
    #[must_use]
    pub const fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Object path for a key: `{prefix}/{first two id digits}/{key}`. The two-digit fan-out
    /// keeps any one local directory to 1/256 of the images.
    fn path(&self, key: &ImageKey) -> ObjectPath {
        let shard = key.id().get(..2).unwrap_or("00");
        self.prefix.child(shard).child(key.as_str())
    }

    /// Stores an encoded image under a fresh random key and returns the key.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the write fails.
    pub async fn put(&self, bytes: Bytes, format: ImageExt) -> Result<ImageKey, StoreError> {
        let key = ImageKey::generate(format);
        let mut opts = PutOptions::default();
        if self.attributes {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, format.content_type().into());
            opts.attributes = attributes;
        }
        self.store
            .put_opts(&self.path(&key), bytes.into(), opts)
            .await
            .map_err(StoreError::Backend)?;
        Ok(key)
    }

    /// The link path for `key`, valid for the store's ttl from `now`:
    /// `/images/{key}?expires={unix}&signature={hex}`. The server prepends its public base URL.
    #[must_use]
    pub fn signed_path(&self, key: &ImageKey, now: SystemTime) -> String {
        let expires = unix_secs(now).saturating_add(self.ttl.as_secs());
        let signature = self.signer.sign(key, expires);
        format!("/images/{key}?expires={expires}&signature={signature}")
    }

    /// Checks a presented link's parts (the `{key}` path segment and the `expires` and
    /// `signature` query values) and returns the key they grant access to.
    ///
    /// # Errors
    /// See [`LinkError`] for the kinds and their HTTP statuses.
    pub fn verify(
        &self,
        key: &str,
        expires: &str,
        signature: &str,
        now: SystemTime,
    ) -> Result<ImageKey, LinkError> {
        self.signer.verify(key, expires, signature, now)
    }

    /// Reads an image back.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when no such object exists (never stored, or swept),
    /// [`StoreError::Backend`] for any other failure.
    pub async fn get(&self, key: &ImageKey) -> Result<StoredImage, StoreError> {
        let result = self
            .store
            .get(&self.path(key))
            .await
            .map_err(|e| StoreError::from_object(e, key))?;
        let size = result.meta.size;
        let last_modified = SystemTime::from(result.meta.last_modified);
        let body = result.into_stream().map_err(StoreError::Backend).boxed();
        Ok(StoredImage {
            content_type: key.content_type(),
            size,
            last_modified,
            body,
        })
    }

    /// Deletes every image whose links have all expired — written more than `ttl + grace`
    /// before `now` — and returns how many were deleted. Objects under the prefix whose names
    /// are not image keys are left alone, so a shared bucket prefix is never emptied by mistake.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when listing fails. A failed delete is logged and skipped
    /// (another replica's sweep may have removed it first); the next sweep retries it.
    pub async fn sweep(&self, now: SystemTime) -> Result<usize, StoreError> {
        let cutoff = now
            .checked_sub(self.ttl.saturating_add(self.grace))
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut listing = self.store.list(Some(&self.prefix));
        let mut deleted = 0_usize;
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(StoreError::Backend)?;
            let is_ours = meta
                .location
                .filename()
                .is_some_and(|name| name.parse::<ImageKey>().is_ok());
            if !is_ours || SystemTime::from(meta.last_modified) >= cutoff {
                continue;
            }
            match self.store.delete(&meta.location).await {
                Ok(()) => deleted += 1,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(path = %meta.location, error = %e, "image sweep: delete failed")
                }
            }
        }
        Ok(deleted)
    }

    /// Runs [`sweep`](Self::sweep) every `interval`, forever. Spawn it on the server's runtime
    /// and abort it at shutdown; a sweep that fails is logged and tried again next time.
    pub async fn sweep_every(&self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match self.sweep(SystemTime::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "image sweep removed expired images"),
                Err(e) => tracing::warn!(error = %e, "image sweep failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn backends_that_keep_attributes_get_the_content_type() {
        let signer = LinkSigner::from_secret([5_u8; 32]).unwrap();
        let store = ImageStore::open(&StoreLocation::Memory, signer, DEFAULT_LINK_TTL)
            .await
            .unwrap();
        let key = store
            .put(Bytes::from_static(b"webp"), ImageExt::Webp)
            .await
            .unwrap();
        let raw = store.store.get(&store.path(&key)).await.unwrap();
        assert_eq!(
            raw.attributes
                .get(&Attribute::ContentType)
                .map(|v| v.as_ref()),
            Some("image/webp")
        );
        assert_eq!(
            raw.meta.location.as_ref(),
            format!("{}/{key}", &key.id()[..2])
        );
    }
}
