//! In-process tests of the HTTP contract: the router driven with `oneshot`, no socket.

mod common;
mod edits;
mod links;
mod malformed;
mod pressure;
mod routing;
mod streaming;
