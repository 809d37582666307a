//! Where the state store and the master key come from, for `serve` and for the commands that
//! manage keys and configs (`keys`, `virtual-keys`, `configs`): the same flags, environment
//! variables, `[server]` settings and defaults everywhere, so a key created by
//! `retouch keys create` lands in the database a running `retouch serve` reads.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use retouch_store::{MasterKey, StateStore};

use crate::config::FileConfig;

/// The data directory used when none is given.
pub(crate) const DEFAULT_DATA_DIR: &str = "retouch-data";

/// Options shared by every command that opens the state store.
#[derive(Debug, Clone, Args)]
pub(crate) struct StateArgs {
    /// Directory for the state database (SQLite default), keys and hosted images.
    #[arg(long, env = "RETOUCH_DATA_DIR", global = true)]
    pub(crate) data_dir: Option<PathBuf>,
    /// State database: postgres://… (shared by replicas) or sqlite://…; default
    /// `<data-dir>/retouch.db`.
    #[arg(long, env = "RETOUCH_DATABASE_URL", global = true)]
    pub(crate) database_url: Option<String>,
    /// TOML configuration file (its `[server]` table supplies data_dir and database_url).
    #[arg(long, env = "RETOUCH_CONFIG", global = true)]
    pub(crate) config: Option<PathBuf>,
}

/// Where the state lives, resolved from flags, the environment, the file and defaults.
#[derive(Debug, Clone)]
pub(crate) struct StateLocation {
    pub(crate) data_dir: PathBuf,
    pub(crate) database_url: Option<String>,
}

impl StateLocation {
    /// Flags (and their environment variables) over the file's `[server]` table.
    pub(crate) fn resolve(
        data_dir: Option<PathBuf>,
        database_url: Option<String>,
        file: &FileConfig,
    ) -> Self {
        Self {
            data_dir: data_dir
                .or_else(|| file.server.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: database_url
                .or_else(|| file.server.database_url.clone())
                .filter(|url| !url.is_empty()),
        }
    }

    /// Resolves a management command's options (reading `--config` when given).
    pub(crate) fn from_args(args: &StateArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        Ok(Self::resolve(
            args.data_dir.clone(),
            args.database_url.clone(),
            &file,
        ))
    }

    /// Whether the database is shared (PostgreSQL): then every replica needs the same
    /// master key, which only `RETOUCH_MASTER_KEY` can give them.
    pub(crate) fn is_shared(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    }

    /// A description safe to print: the SQLite path, or the URL's scheme and host only.
    pub(crate) fn describe(&self) -> String {
        match &self.database_url {
            None => format!("sqlite {}", self.sqlite_path().display()),
            Some(url) => match url::Url::parse(url) {
                Ok(parsed) => format!(
                    "{} {}{}",
                    parsed.scheme(),
                    parsed.host_str().unwrap_or(""),
                    parsed.path()
                ),
                Err(_) => "a database URL".to_owned(),
            },
        }
    }

    fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("retouch.db")
    }

    /// Opens the database (creating the SQLite file and running migrations as needed).
    pub(crate) async fn open(&self) -> anyhow::Result<StateStore> {
        match &self.database_url {
            Some(url) => StateStore::connect(url)
                .await
                .with_context(|| format!("opening the state database ({})", self.describe())),
            None => StateStore::connect_sqlite_file(&self.sqlite_path())
                .await
                .with_context(|| format!("opening the state database ({})", self.describe())),
        }
    }

    /// The master key for virtual keys: `RETOUCH_MASTER_KEY` (64 hex characters), else
    /// `<data-dir>/master.key`, created (mode 0600) on first use.
    pub(crate) fn master_key(&self) -> anyhow::Result<MasterKey> {
        match std::env::var("RETOUCH_MASTER_KEY") {
            Ok(text) if !text.trim().is_empty() => {
                MasterKey::from_hex(&text).context("RETOUCH_MASTER_KEY")
            }
            Ok(_) | Err(_) => {
                if self.is_shared() {
                    eprintln!(
                        "warning: the state database is shared but RETOUCH_MASTER_KEY is not \
                         set: each replica's own master.key cannot decrypt the others' virtual keys"
                    );
                }
                let path = self.data_dir.join("master.key");
                MasterKey::load_or_create(&path)
                    .with_context(|| format!("loading the master key {}", path.display()))
            }
        }
    }
}

/// Runs `f` on a small runtime: the management commands do a few queries and exit.
pub(crate) fn block_on<T>(
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(f)
}

/// Makes sure the data directory exists (the SQLite file and master key live there).
pub(crate) fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))
}
