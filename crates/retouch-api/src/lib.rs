//! retouch-api
