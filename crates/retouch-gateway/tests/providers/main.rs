//! Provider adapter tests against mock upstreams (one binary, so helpers are shared):
//! - `conformance`: one suite run against every adapter;
//! - `wire`: what each adapter does that the others do not;
//! - `ssrf`: the outbound-address guard, end to end through the HTTP client.
//!
//! The checks live in helper functions shared by generated tests, so clippy does not see them
//! as test code; failing loudly there is what a test does.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed expectation is a failed test"
)]

mod common;
mod conformance;
mod ssrf;
mod wire;
