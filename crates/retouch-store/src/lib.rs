//! retouch-store: everything the server keeps beyond one request.
//!
//! - [`images`]: result images in an object store (local disk by default, any S3-compatible
//!   service at scale) behind signed expiring links.
//!
//! The crate is a library for the server: no HTTP types, no global state, no background tasks
//! of its own (the server drives sweeps).

mod error;
pub mod images;

pub use error::StoreError;
pub use images::{
    DEFAULT_LINK_TTL, DEFAULT_SWEEP_GRACE, ImageExt, ImageKey, ImageStore, InvalidKey, LinkError,
    LinkSigner, StoreLocation, StoredImage, UnknownExt,
};
