//! In-process tests of the HTTP contract: the router driven with `oneshot`, no socket.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly on broken fixtures"
)]

mod common;
mod edits;
mod links;
mod malformed;
mod pressure;
mod routing;
mod streaming;
