//! retouch-fill
