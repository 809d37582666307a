//! Gateway keys: the `rtk_…` bearer tokens callers present to the gateway.
//!
//! Only a SHA-256 hash of each key is stored, plus a short prefix so operators can tell keys
//! apart in a list. The key itself exists in clear exactly once, in the value
//! [`StateStore::create_gateway_key`] returns. Keys carry 256 random bits, so a plain hash
//! (no salt, no slow KDF) is enough: there is nothing to brute-force.

use std::time::SystemTime;

use rand::RngCore;
use sha2::{Digest as _, Sha256};

use super::{StateStore, from_ms, insert_error, to_ms, with_pool};
use crate::{SecretString, StoreError};

/// Every gateway key starts with this, so the server can tell one from a provider key.
pub const GATEWAY_KEY_PREFIX: &str = "rtk_";
/// Random bytes in a key (64 hex characters after the prefix).
const KEY_RANDOM_BYTES: usize = 32;
const KEY_LEN: usize = GATEWAY_KEY_PREFIX.len() + KEY_RANDOM_BYTES * 2;
/// Characters of the key kept for display: the prefix and 8 hex digits (32 of 256 bits).
const DISPLAY_PREFIX_LEN: usize = GATEWAY_KEY_PREFIX.len() + 8;

/// A gateway key as stored: everything but the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayKey {
    /// Stable id (`gk_…`) used to revoke the key and to attribute usage.
    pub id: String,
    /// Operator's label.
    pub name: String,
    /// The key's first characters, e.g. `rtk_1a2b3c4d`, for display.
    pub prefix: String,
    /// When the key was created.
    pub created_at: SystemTime,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<SystemTime>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<KeyRow> for GatewayKey {
    fn from(r: KeyRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            created_at: from_ms(r.created_at),
            revoked_at: r.revoked_at.map(from_ms),
        }
    }
}

/// Whether `s` has the shape of a gateway key (`rtk_` and 64 lowercase hex digits). The server
/// uses this to decide whether a bearer token is ours or a provider key to pass along.
#[must_use]
pub fn looks_like_gateway_key(s: &str) -> bool {
    s.len() == KEY_LEN
        && s.strip_prefix(GATEWAY_KEY_PREFIX).is_some_and(|rest| {
            rest.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0_u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

const KEY_COLUMNS: &str = "id, name, prefix, created_at, revoked_at";

impl StateStore {
    /// Issues a new gateway key named `name` and returns its record and the key itself — the
    /// only time the key is available in clear.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an empty or over-long name, [`StoreError::Database`].
    pub async fn create_gateway_key(
        &self,
        name: &str,
    ) -> Result<(GatewayKey, SecretString), StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "gateway key name must be 1-128 printable characters".to_owned(),
            ));
        }
        let key = format!("{GATEWAY_KEY_PREFIX}{}", random_hex(KEY_RANDOM_BYTES));
        let record = GatewayKey {
            id: format!("gk_{}", random_hex(8)),
            name: name.to_owned(),
            prefix: key.get(..DISPLAY_PREFIX_LEN).unwrap_or_default().to_owned(),
            // Millisecond precision, as stored, so the returned record equals a later read.
            created_at: from_ms(to_ms(SystemTime::now())),
            revoked_at: None,
        };
        let sql = "INSERT INTO gateway_keys (id, name, prefix, hash, created_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&record.id)
            .bind(&record.name)
            .bind(&record.prefix)
            .bind(hash_key(&key))
            .bind(to_ms(record.created_at))
            .execute(pool)
            .await
            .map(drop))
        .map_err(|e| insert_error(e, "gateway key"))?;
        Ok((record, SecretString::new(key)))
    }

    /// The live (not revoked) key record for a presented key, or `None`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn verify_gateway_key(
        &self,
        presented: &str,
    ) -> Result<Option<GatewayKey>, StoreError> {
        if !looks_like_gateway_key(presented) {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM gateway_keys WHERE hash = $1 AND revoked_at IS NULL"
        );
        let row: Option<KeyRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(hash_key(presented))
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::Database)?;
        Ok(row.map(GatewayKey::from))
    }

    /// Revokes the key with this id. Returns whether a live key was revoked.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn revoke_gateway_key(&self, id: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE gateway_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(to_ms(SystemTime::now()))
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(StoreError::Database)?;
        Ok(done > 0)
    }

    /// Every key, revoked ones included, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn list_gateway_keys(&self) -> Result<Vec<GatewayKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM gateway_keys ORDER BY created_at, id");
        let rows: Vec<KeyRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)
                .map_err(StoreError::Database)?;
        Ok(rows.into_iter().map(GatewayKey::from).collect())
    }

    /// Whether any live gateway key exists (the server requires auth once one does).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn has_gateway_keys(&self) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM gateway_keys WHERE revoked_at IS NULL";
        let count: i64 = with_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await)
            .map_err(StoreError::Database)?;
        Ok(count > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape() {
        let key = format!("{GATEWAY_KEY_PREFIX}{}", random_hex(KEY_RANDOM_BYTES));
        assert!(looks_like_gateway_key(&key));
        assert!(!looks_like_gateway_key("sk-proj-abc"));
        assert!(!looks_like_gateway_key(&key[..KEY_LEN - 1]));
        assert!(!looks_like_gateway_key(&key.to_uppercase()));
        assert!(!looks_like_gateway_key(&format!("{key}0")));
    }
}
