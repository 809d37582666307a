//! Saved configs: Portkey-style gateway configs stored under an id, so callers can send
//! `x-portkey-config: pc-…` instead of the whole JSON.
//!
//! The store checks only that the body is a JSON object of bounded size; what the config
//! means is the gateway's to validate (it parses configs, raw → validated, and names the bad
//! path), and it should do so before saving.

use std::time::SystemTime;

use super::{StateStore, from_ms, to_ms, validate_slug, with_pool};
use crate::StoreError;

/// Largest config body accepted.
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;

/// A saved config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedConfig {
    /// The id callers send in `x-portkey-config`.
    pub id: String,
    /// The config JSON exactly as saved.
    pub body: String,
    /// When it was first saved.
    pub created_at: SystemTime,
    /// When it was last replaced.
    pub updated_at: SystemTime,
}

#[derive(sqlx::FromRow)]
struct ConfigRow {
    id: String,
    body: String,
    created_at: i64,
    updated_at: i64,
}

impl From<ConfigRow> for SavedConfig {
    fn from(r: ConfigRow) -> Self {
        Self {
            id: r.id,
            body: r.body,
            created_at: from_ms(r.created_at),
            updated_at: from_ms(r.updated_at),
        }
    }
}

impl StateStore {
    /// Saves `body` under `id`, replacing any config already there (its creation time is kept).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a bad id or a body that is not a JSON object of at most
    /// [`MAX_CONFIG_BYTES`], [`StoreError::Database`].
    pub async fn put_config(&self, id: &str, body: &str) -> Result<SavedConfig, StoreError> {
        validate_slug("config", id)?;
        if body.len() > MAX_CONFIG_BYTES {
            return Err(StoreError::Invalid(format!(
                "config is larger than {MAX_CONFIG_BYTES} bytes"
            )));
        }
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => {
                return Err(StoreError::Invalid(
                    "config must be a JSON object".to_owned(),
                ));
            }
            Err(e) => {
                return Err(StoreError::Invalid(format!(
                    "config is not valid JSON: {e}"
                )));
            }
        }
        let now = to_ms(SystemTime::now());
        let sql = "INSERT INTO configs (id, body, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                   ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at \
                   RETURNING id, body, created_at, updated_at";
        let row: ConfigRow = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(id)
            .bind(body)
            .bind(now)
            .fetch_one(pool)
            .await)
        .map_err(StoreError::Database)?;
        Ok(row.into())
    }

    /// The config saved under `id`, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn get_config(&self, id: &str) -> Result<Option<SavedConfig>, StoreError> {
        let sql = "SELECT id, body, created_at, updated_at FROM configs WHERE id = $1";
        let row: Option<ConfigRow> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(pool)
            .await)
        .map_err(StoreError::Database)?;
        Ok(row.map(SavedConfig::from))
    }

    /// Deletes the config saved under `id`. Returns whether it existed.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn delete_config(&self, id: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM configs WHERE id = $1";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map_err(StoreError::Database)?;
        Ok(done > 0)
    }

    /// Every saved config, by id.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn list_configs(&self) -> Result<Vec<SavedConfig>, StoreError> {
        let sql = "SELECT id, body, created_at, updated_at FROM configs ORDER BY id";
        let rows: Vec<ConfigRow> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)
                .map_err(StoreError::Database)?;
        Ok(rows.into_iter().map(SavedConfig::from).collect())
    }
}
