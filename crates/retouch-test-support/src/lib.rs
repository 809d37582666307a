//! Test support for retouch: mock upstream servers and image fixtures.
//!
//! [`MockUpstream`] starts an HTTP server on `127.0.0.1:0` that speaks one provider's documented
//! image-edit wire format (OpenAI, Azure OpenAI, Stability AI v2beta, AUTOMATIC1111, Gemini,
//! IOPaint). It checks requests the way the real API does (auth, required fields, content
//! types), records every request for assertions, and can be scripted per test to fail in the
//! ways real upstreams fail. [`fixtures`] builds the PNGs and OpenAI masks tests send;
//! [`scratch_db`] gives a test its own PostgreSQL database.
//!
//! Nothing here is used outside tests: a fixture that cannot be built, or a mock that cannot
//! bind, panics so that the test fails loudly at the cause.

#![expect(
    clippy::panic,
    reason = "test support: failing loudly at a broken fixture is the point"
)]

pub mod fixtures;
mod mock;
pub mod scratch_db;

pub use mock::{MockKind, MockOptions, MockUpstream, RecordedPart, RecordedRequest, Reply};
