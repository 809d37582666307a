//! In-process tests of the HTTP contract: the router driven with `oneshot` (no socket), and
//! over real HTTP on 127.0.0.1 where the socket matters (auth).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly on broken fixtures"
)]

mod auth;
mod common;
mod edits;
mod links;
mod malformed;
mod pressure;
mod ratelimit;
mod routing;
mod streaming;
