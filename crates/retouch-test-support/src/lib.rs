//! retouch-test-support
