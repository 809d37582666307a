//! The HTTP face of retouch: an axum [`Router`] that speaks OpenAI's images API.
//!
//! [`app`] builds the router from an [`AppState`]; tests drive it in process with
//! `tower::ServiceExt::oneshot`, and the binary serves it with [`serve`], which adds what a
//! production listener needs: header and body timeouts, HTTP/1.1 and HTTP/2, and a bounded
//! graceful drain on shutdown.

mod accounts;
mod auth;
mod error;
mod extract;
mod handlers;
mod middleware;
mod playground;
mod portkey;
mod ratelimit;
mod render;
mod routes;
mod serve;
mod shutdown;
mod state;
mod ttl_cache;
mod usage;

pub use accounts::Accounts;
pub use auth::AuthOptions;
pub use error::ErrorResponse;
pub use ratelimit::RateLimits;
pub use routes::app;
pub use serve::{ServeOptions, serve};
pub use shutdown::Shutdown;
pub use state::{AppState, Limits};
