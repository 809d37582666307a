//! [`StoreError`]: every failure of the store crate (images and state), with the path, key or
//! id it concerns and never a secret.

use std::path::{Path, PathBuf};

use crate::ImageKey;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The requested image does not exist (never stored, or already swept).
    #[error("image {key} not found")]
    NotFound {
        /// The key that was looked up.
        key: ImageKey,
    },
    /// A store location string or setting that cannot be used.
    #[error("invalid store location {0}")]
    InvalidLocation(String),
    /// A secret (link secret, master key) is missing or unusable. The message never holds it.
    #[error("{0}")]
    Secret(String),
    /// A local file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The object store backend (disk, S3, memory) failed.
    #[error("object store: {0}")]
    Backend(#[source] object_store::Error),
    /// The state database failed (unreachable, query error). sqlx errors name no bound values,
    /// so no secret reaches this message.
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// Bringing the database schema up to date failed.
    #[error("database migration: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// Input the store refuses (bad id, name, config body); the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// A record with that id already exists.
    #[error("{0}")]
    Conflict(String),
    /// Encryption or decryption of a stored secret failed (wrong master key, tampered row).
    #[error("{0}")]
    Crypto(String),
    /// Redis (shared rate limits) is misconfigured or unreachable. The message names the host,
    /// never the URL's password.
    #[error("redis: {0}")]
    Redis(String),
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    #[expect(
        clippy::wildcard_enum_match_arm,
        reason = "object_store::Error is foreign and non-exhaustive; only NotFound is special"
    )]
    pub(crate) fn from_object(e: object_store::Error, key: &ImageKey) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::NotFound { key: key.clone() },
            other => Self::Backend(other),
        }
    }
}
