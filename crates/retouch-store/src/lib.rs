//! retouch-store
