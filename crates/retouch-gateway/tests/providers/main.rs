//! Provider adapter tests against mock upstreams (one binary, so helpers are shared):
//! - `conformance`: one suite run against every adapter;
//! - `wire`: what each adapter does that the others do not;
//! - `ssrf`: the outbound-address guard, end to end through the HTTP client.

mod common;
mod conformance;
mod ssrf;
mod wire;
