//! A throwaway PostgreSQL database per test, on the server `scripts/test.sh` starts and names in
//! `RETOUCH_TEST_DATABASE_URL`: created empty, dropped when the test is done, so tests running
//! at once never see each other's rows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable naming the test server's admin URL (`postgres://user@host:port/postgres`).
pub const DATABASE_URL_VAR: &str = "RETOUCH_TEST_DATABASE_URL";

/// A database created for one test.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates an empty database named `<prefix>_<unique suffix>`; `None` (with a note on
    /// stderr) when no test server is configured, so callers run their SQLite half only.
    /// `prefix` must be a lowercase SQL identifier.
    ///
    /// # Errors
    /// The server refused the connection or the `CREATE DATABASE`.
    pub async fn create(prefix: &str) -> Result<Option<Self>, sqlx::Error> {
        let Ok(admin_url) = std::env::var(DATABASE_URL_VAR) else {
            eprintln!("postgres half skipped: {DATABASE_URL_VAR} not set");
            return Ok(None);
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let name = format!(
            "{prefix}_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = sqlx::PgPool::connect(&admin_url).await?;
        let created = sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await;
        admin.close().await;
        created?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Ok(Some(Self {
            admin_url,
            name,
            url,
        }))
    }

    /// The database's URL, for `StateStore::connect` or `--database-url`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database, closing whatever is still connected to it.
    ///
    /// # Errors
    /// The server refused the connection or the `DROP DATABASE`.
    pub async fn drop_database(self) -> Result<(), sqlx::Error> {
        let admin = sqlx::PgPool::connect(&self.admin_url).await?;
        let dropped = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&admin)
        .await;
        admin.close().await;
        dropped.map(|_| ())
    }
}
