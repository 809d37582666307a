//! retouch-gateway
