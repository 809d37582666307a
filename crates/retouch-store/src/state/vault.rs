//! Virtual keys: provider credentials stored under a short id (the `x-portkey-virtual-key`
//! value), encrypted at rest with AES-256-GCM under a [`MasterKey`].
//!
//! Each record has its own random 96-bit nonce, and the associated data binds the ciphertext
//! to its id and provider, so a ciphertext copied onto another row does not decrypt. The master
//! key comes from `RETOUCH_MASTER_KEY` (64 hex characters, e.g. `openssl rand -hex 32`) or from
//! a file in the data directory created once with mode 0600. Losing it loses the virtual keys
//! (they must be re-entered); it is never written to the database.

use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

use super::{StateStore, from_ms, insert_error, to_ms, validate_slug, with_pool};
use crate::{SecretString, StoreError};

const NONCE_LEN: usize = 12;
/// Longest provider secret accepted (service-account JSON blobs can be a few KB).
const MAX_SECRET_LEN: usize = 64 * 1024;

/// The key that encrypts virtual keys. Never printed.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A master key from 64 hex characters (32 bytes), surrounding whitespace ignored — the
    /// form of `RETOUCH_MASTER_KEY` and of the key file.
    ///
    /// # Errors
    /// [`StoreError::Secret`] when the text is not exactly 64 hex characters (the message
    /// never repeats the text).
    pub fn from_hex(text: &str) -> Result<Self, StoreError> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                StoreError::Secret(
                    "master key must be 64 hex characters (32 bytes), e.g. `openssl rand -hex 32`"
                        .to_owned(),
                )
            })?;
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
        })
    }

    /// Reads the master key from `path`, creating a random one (mode 0600) if it is missing.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the file cannot be read or created, [`StoreError::Secret`] when
    /// it does not hold 64 hex characters.
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        let contents = crate::secret::load_or_create(path, "master key")?;
        let text = std::str::from_utf8(&contents).map_err(|_| {
            StoreError::Secret(format!("master key file {} is not text", path.display()))
        })?;
        Self::from_hex(text).map_err(|_| {
            StoreError::Secret(format!(
                "master key file {} must hold 64 hex characters",
                path.display()
            ))
        })
    }

    fn encrypt(&self, aad: &[u8], secret: &[u8]) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let mut nonce = [0_u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad })
            .map_err(|_| StoreError::Crypto("encryption failed".to_owned()))?;
        Ok((nonce.to_vec(), ciphertext))
    }

    fn decrypt(&self, aad: &[u8], nonce: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, StoreError> {
        if nonce.len() != NONCE_LEN {
            return Err(StoreError::Crypto(
                "stored nonce has the wrong length".to_owned(),
            ));
        }
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| {
                StoreError::Crypto(
                    "cannot decrypt virtual key: wrong master key or tampered record".to_owned(),
                )
            })
    }
}

/// Associated data: binds a ciphertext to the row it was written for.
fn aad(id: &str, provider: &str) -> Vec<u8> {
    format!("retouch-virtual-key-v1\n{id}\n{provider}").into_bytes()
}

/// A virtual key as listed: no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualKey {
    /// The id callers send in `x-portkey-virtual-key`.
    pub id: String,
    /// The provider the secret belongs to (e.g. `openai`, `stability-ai`).
    pub provider: String,
    /// When it was stored.
    pub created_at: SystemTime,
}

#[derive(sqlx::FromRow)]
struct VirtualKeyRow {
    id: String,
    provider: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    created_at: i64,
}

impl StateStore {
    /// Stores `secret` for `provider` under `id`, encrypted with `master`.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a bad id, provider or secret, [`StoreError::Conflict`] when
    /// the id is taken, [`StoreError::Database`].
    pub async fn create_virtual_key(
        &self,
        master: &MasterKey,
        id: &str,
        provider: &str,
        secret: &str,
    ) -> Result<VirtualKey, StoreError> {
        validate_slug("virtual key", id)?;
        validate_slug("provider", provider)?;
        if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
            return Err(StoreError::Invalid(format!(
                "virtual key secret must be 1-{MAX_SECRET_LEN} bytes"
            )));
        }
        let (nonce, ciphertext) = master.encrypt(&aad(id, provider), secret.as_bytes())?;
        let record = VirtualKey {
            id: id.to_owned(),
            provider: provider.to_owned(),
            // Millisecond precision, as stored, so the returned record equals a later read.
            created_at: from_ms(to_ms(SystemTime::now())),
        };
        let sql = "INSERT INTO virtual_keys (id, provider, nonce, ciphertext, created_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&record.id)
            .bind(&record.provider)
            .bind(&nonce)
            .bind(&ciphertext)
            .bind(to_ms(record.created_at))
            .execute(pool)
            .await
            .map(drop))
        .map_err(|e| insert_error(e, "virtual key"))?;
        Ok(record)
    }

    /// The virtual key `id` with its decrypted secret, or `None` if there is no such key.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] when it does not decrypt under `master` (another master key, or
    /// a tampered row), [`StoreError::Database`].
    pub async fn get_virtual_key_decrypted(
        &self,
        master: &MasterKey,
        id: &str,
    ) -> Result<Option<(VirtualKey, SecretString)>, StoreError> {
        let sql =
            "SELECT id, provider, nonce, ciphertext, created_at FROM virtual_keys WHERE id = $1";
        let row: Option<VirtualKeyRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::Database)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let plain = master.decrypt(&aad(&row.id, &row.provider), &row.nonce, &row.ciphertext)?;
        let secret = String::from_utf8(plain)
            .map_err(|_| StoreError::Crypto("decrypted virtual key is not UTF-8".to_owned()))?;
        let key = VirtualKey {
            id: row.id,
            provider: row.provider,
            created_at: from_ms(row.created_at),
        };
        Ok(Some((key, SecretString::new(secret))))
    }

    /// Deletes virtual key `id`. Returns whether it existed.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn delete_virtual_key(&self, id: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM virtual_keys WHERE id = $1";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(StoreError::Database)?;
        Ok(done > 0)
    }

    /// Every virtual key, without secrets, by id.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn list_virtual_keys(&self) -> Result<Vec<VirtualKey>, StoreError> {
        let sql = "SELECT id, provider, created_at FROM virtual_keys ORDER BY id";
        let rows: Vec<(String, String, i64)> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)
                .map_err(StoreError::Database)?;
        Ok(rows
            .into_iter()
            .map(|(id, provider, created_at)| VirtualKey {
                id,
                provider,
                created_at: from_ms(created_at),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_hex(&hex::encode([byte; 32])).unwrap()
    }

    #[test]
    fn round_trip_and_binding() {
        let k = key(1);
        let (nonce, ct) = k.encrypt(&aad("a", "openai"), b"sk-123").unwrap();
        assert_eq!(
            k.decrypt(&aad("a", "openai"), &nonce, &ct).unwrap(),
            b"sk-123"
        );
        assert!(k.decrypt(&aad("b", "openai"), &nonce, &ct).is_err());
        assert!(k.decrypt(&aad("a", "stability-ai"), &nonce, &ct).is_err());
        assert!(key(2).decrypt(&aad("a", "openai"), &nonce, &ct).is_err());
        let (nonce2, ct2) = k.encrypt(&aad("a", "openai"), b"sk-123").unwrap();
        assert_ne!(nonce, nonce2, "nonces are random per record");
        assert_ne!(ct, ct2);
    }

    #[test]
    fn master_key_text_is_strict_and_never_echoed() {
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(62), &"a".repeat(66)] {
            let err = MasterKey::from_hex(bad).unwrap_err().to_string();
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
        let text = hex::encode([9_u8; 32]);
        assert!(MasterKey::from_hex(&format!("  {text}\n")).is_ok());
        assert!(!format!("{:?}", key(9)).contains(&text));
    }
}
