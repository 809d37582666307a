//! The gateway's state: [`StateStore`], one closed enum over SQLite (the default, a file in
//! the data directory) and PostgreSQL (shared by replicas at scale).
//!
//! Each backend has its own migrations (`migrations/sqlite`, `migrations/postgres`), embedded
//! at compile time and run on connect. Queries are plain `sqlx::query` strings with `$N`
//! placeholders, which both SQLite and PostgreSQL accept, so each operation is written once
//! and [`with_pool!`] runs it on whichever pool is open. No query is checked at compile time
//! (that would need a database at build time).
//!
//! What lives here, one submodule each: gateway keys ([`keys`]), virtual keys and the master key
//! that encrypts them ([`vault`]), saved configs ([`configs`]), usage records ([`usage`]).

pub mod configs;
pub mod keys;
pub mod usage;
pub mod vault;

use std::fmt;
use std::path::Path;
use std::str::FromStr as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::StoreError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// SQLite allows one writer at a time; a few connections serve concurrent reads.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
/// How long a write waits for SQLite's lock, or a request for a pooled connection.
const WAIT: Duration = Duration::from_secs(5);

/// Runs `$body` with `$pool` bound to whichever pool `$store` holds. The body must compile
/// for both backends, which generic sqlx calls do.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::state::StateStore::Sqlite($pool) => $body,
            $crate::state::StateStore::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// The state database. Cheap to clone (pools are shared handles).
#[derive(Clone)]
pub enum StateStore {
    /// A SQLite file: the zero-configuration default.
    Sqlite(SqlitePool),
    /// A PostgreSQL database shared by every replica.
    Postgres(PgPool),
}

impl fmt::Debug for StateStore {
    /// Shows the backend and pool size only: connection options can hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (backend, size, idle) = match self {
            Self::Sqlite(pool) => ("sqlite", pool.size(), pool.num_idle()),
            Self::Postgres(pool) => ("postgres", pool.size(), pool.num_idle()),
        };
        f.debug_struct("StateStore")
            .field("backend", &backend)
            .field("connections", &size)
            .field("idle", &idle)
            .finish()
    }
}

impl StateStore {
    /// Opens the database named by `url` and brings its schema up to date.
    ///
    /// `sqlite://{path}[?options]` (the file is created if missing) or
    /// `postgres://…` / `postgresql://…`.
    ///
    /// # Errors
    /// [`StoreError::InvalidLocation`] for another scheme, [`StoreError::Database`] when the
    /// database cannot be reached, [`StoreError::Migrate`] when migrations fail.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url).map_err(StoreError::Database)?;
            Self::connect_sqlite_with(options).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_MAX_CONNECTIONS)
                .acquire_timeout(WAIT)
                .connect(url)
                .await
                .map_err(StoreError::Database)?;
            POSTGRES_MIGRATIONS
                .run(&pool)
                .await
                .map_err(StoreError::Migrate)?;
            Ok(Self::Postgres(pool))
        } else {
            // The URL may carry a password: name only its scheme.
            let scheme = url.split_once(':').map_or("", |(s, _)| s);
            Err(StoreError::InvalidLocation(format!(
                "database URL scheme {scheme:?}: expected sqlite:// or postgres://"
            )))
        }
    }

    /// Opens (creating if missing) the SQLite database at `path`, e.g.
    /// `{data_dir}/retouch.db`. Safer than building a URL when the path has odd characters.
    ///
    /// # Errors
    /// As for [`connect`](Self::connect).
    pub async fn connect_sqlite_file(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        Self::connect_sqlite_with(SqliteConnectOptions::new().filename(path)).await
    }

    async fn connect_sqlite_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(WAIT)
            .foreign_keys(true);
        let file = options.get_filename().to_owned();
        let pool = SqlitePoolOptions::new()
            .max_connections(SQLITE_MAX_CONNECTIONS)
            .acquire_timeout(WAIT)
            .connect_with(options)
            .await
            .map_err(StoreError::Database)?;
        restrict_permissions(&file);
        SQLITE_MIGRATIONS
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        Ok(Self::Sqlite(pool))
    }

    /// Closes every connection (waits for checked-out ones). SQLite folds its write-ahead log
    /// back into the main file here.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}

/// Makes the SQLite file owner-only. It holds only hashes and ciphertexts, but there is no
/// reason for anyone else to read even those. Best effort: a failure (e.g. `:memory:`, a
/// filesystem without modes) is logged, not fatal.
fn restrict_permissions(file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if file.as_os_str().is_empty() || file == Path::new(":memory:") {
            return;
        }
        if let Err(e) = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(path = %file.display(), error = %e, "could not make the state database owner-only");
        }
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// Unix milliseconds, as stored.
pub(crate) fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Back from stored unix milliseconds (negative values clamp to the epoch).
pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Ids chosen by operators (virtual keys, configs) appear in headers and URLs: 1–64 of
/// ASCII letters, digits, `-`, `_`, `.`, starting with a letter or digit.
pub(crate) fn validate_slug(kind: &str, id: &str) -> Result<(), StoreError> {
    let ok = (1..=64).contains(&id.len())
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{kind} id must be 1-64 of letters, digits, '-', '_' or '.', starting with a letter or digit"
        )))
    }
}

/// Maps an insert failure: a unique-key clash is the caller's [`StoreError::Conflict`].
pub(crate) fn insert_error(e: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict(format!("{what} already exists"));
    }
    StoreError::Database(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_at_millisecond_precision() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(from_ms(to_ms(t)), t);
        assert_eq!(from_ms(-5), UNIX_EPOCH);
    }

    #[test]
    fn slugs() {
        for ok in ["openai-prod", "pc-abc123", "a", "A.b_c-9"] {
            assert!(validate_slug("x", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a/b", "a b", "ü", &"a".repeat(65), "a\0"] {
            assert!(validate_slug("x", bad).is_err(), "{bad:?}");
        }
    }
}
