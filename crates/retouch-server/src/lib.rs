//! retouch-server
