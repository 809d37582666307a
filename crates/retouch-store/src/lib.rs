//! retouch-store: everything the server keeps beyond one request.
//!
//! - [`images`]: result images in an object store (local disk by default, any S3-compatible
//!   service at scale) behind signed expiring links.
//! - [`limits`]: rate limits (GCRA), in process by default or in Redis shared by replicas.
//! - [`state`]: gateway keys (hashed), virtual keys (encrypted), saved configs and usage records
//!   in SQLite (default) or PostgreSQL (shared by replicas).
//!
//! The crate is a library for the server: no HTTP types, no global state, no background tasks
//! of its own (the server drives sweeps).

mod error;
pub mod images;
pub mod limits;
mod secret;
pub mod state;

pub use error::StoreError;
pub use images::{
    DEFAULT_LINK_TTL, DEFAULT_SWEEP_GRACE, ImageExt, ImageKey, ImageStore, InvalidKey, LinkError,
    LinkSigner, StoreLocation, StoredImage, UnknownExt,
};
pub use limits::{Decision, RateLimiter};
pub use secret::SecretString;
pub use state::StateStore;
pub use state::configs::SavedConfig;
pub use state::keys::{GATEWAY_KEY_PREFIX, GatewayKey, looks_like_gateway_key};
pub use state::usage::{MAX_USAGE_ROWS, UsageQuery, UsageRecord};
pub use state::vault::{MasterKey, VirtualKey};
