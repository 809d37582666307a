//! Secret handling shared by the crate: [`SecretString`] (a string whose `Debug` and `Display`
//! never show it) and the create-once, mode-0600 secret files in the data directory that keep
//! the link secret and the master key stable across restarts.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use rand::RngCore;

use crate::StoreError;

/// A secret string (a provider API key, a freshly issued gateway key). Printing it shows
/// `<redacted>`; [`expose`](Self::expose) is the one deliberate way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    #[must_use]
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that must send or show it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// 32 random bytes as 64 lowercase hex characters.
pub(crate) fn random_hex_32() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Reads the trimmed contents of the secret file at `path`, creating it with
/// [`random_hex_32`] first if it does not exist.
///
/// A new file appears atomically with its full contents and mode 0600: it is written to a
/// temporary file in the same directory (tempfile creates those 0600 on unix), synced, then
/// hard-linked into place without overwriting. If another process creates it first, its
/// contents win and are read back, so concurrent starts agree on one secret.
pub(crate) fn load_or_create(path: &Path, what: &str) -> Result<Vec<u8>, StoreError> {
    match std::fs::read(path) {
        Ok(contents) => return Ok(contents.trim_ascii().to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(path, e)),
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let text = format!("{}\n", random_hex_32());
    let mut tmp = tempfile::Builder::new()
        .prefix(".secret")
        .tempfile_in(dir)
        .map_err(|e| StoreError::io(dir, e))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| StoreError::io(tmp.path(), e))?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            tracing::info!(path = %path.display(), "created a new {what}");
            Ok(text.trim_ascii().as_bytes().to_vec())
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path)
            .map(|c| c.trim_ascii().to_vec())
            .map_err(|e| StoreError::io(path, e)),
        Err(e) => Err(StoreError::io(path, e.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_strings_never_print() {
        let s = SecretString::new("sk-live-abc");
        assert_eq!(format!("{s:?} {s} {s:#?}").matches("sk-live").count(), 0);
        assert_eq!(s.expose(), "sk-live-abc");
    }

    #[test]
    fn concurrent_creation_agrees_on_one_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_or_create(&path, "test secret").unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(results.iter().all(|r| r == &results[0] && r.len() == 64));
    }
}
