//! `retouch keys` (gateway keys callers present to the server) and `retouch virtual-keys`
//! (provider credentials stored encrypted under an id for `x-portkey-virtual-key`).
//!
//! Secrets travel only where they must: a new gateway key is printed once on stdout (nothing
//! else goes there, so `KEY=$(retouch keys create --name ci)` works); a provider secret is read
//! from stdin or a named environment variable, never from the command line, where `ps` and
//! shell history would see it.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use rand::RngCore as _;
use retouch_gateway::Provider;

use crate::state::{StateArgs, StateLocation, block_on, ensure_dir};

/// `retouch keys …`
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    #[command(flatten)]
    state: StateArgs,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Issue a gateway key; prints it once on stdout.
    Create {
        /// A label to tell keys apart (who or what uses it).
        #[arg(long)]
        name: String,
    },
    /// List gateway keys (never the keys themselves).
    List,
    /// Revoke a gateway key by id (gk_…); running servers refuse it within seconds.
    Revoke {
        /// The key's id, as `keys list` shows it.
        id: String,
    },
}

/// `retouch virtual-keys …`
#[derive(Debug, Args)]
pub(crate) struct VirtualKeysArgs {
    #[command(flatten)]
    state: StateArgs,
    #[command(subcommand)]
    command: VirtualKeysCommand,
}

#[derive(Debug, Subcommand)]
enum VirtualKeysCommand {
    /// Store a provider key (read from stdin, or from --from-env) under an id.
    Add {
        /// The provider the key is for: openai, azure-openai, stability-ai, a1111, gemini,
        /// iopaint, openai-compatible.
        #[arg(long)]
        provider: String,
        /// The id callers send in x-portkey-virtual-key; default: <provider>-<random>.
        #[arg(long)]
        id: Option<String>,
        /// Read the secret from this environment variable instead of stdin.
        #[arg(long, value_name = "VAR")]
        from_env: Option<String>,
    },
    /// List virtual keys (ids and providers, never secrets).
    List,
    /// Delete a virtual key.
    Delete {
        /// The virtual key's id.
        id: String,
    },
}

pub(crate) fn run_keys(args: KeysArgs) -> anyhow::Result<()> {
    let location = StateLocation::from_args(&args.state)?;
    block_on(async move {
        if location.database_url.is_none() {
            ensure_dir(&location.data_dir)?;
        }
        let store = location.open().await?;
        let result = keys(&store, args.command).await;
        store.close().await;
        result
    })
}

async fn keys(store: &retouch_store::StateStore, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { name } => {
            let (record, key) = store
                .create_gateway_key(&name)
                .await
                .context("creating the gateway key")?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", key.expose())?;
            stdout.flush()?;
            eprintln!(
                "Created gateway key {} ({}). It is shown only this once: store it now.\n\
                 Callers send it as `Authorization: Bearer <key>` (or `x-portkey-api-key`); \
                 servers using this database require a key from now on.",
                record.id, record.name
            );
        }
        KeysCommand::List => {
            let keys = store.list_gateway_keys().await?;
            let rows = keys
                .into_iter()
                .map(|k| {
                    vec![
                        k.id,
                        k.name,
                        format!("{}…", k.prefix),
                        time(k.created_at),
                        k.revoked_at.map_or_else(|| "-".to_owned(), time),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["ID", "NAME", "PREFIX", "CREATED", "REVOKED"], &rows)?;
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_gateway_key(&id).await? {
                bail!("no live gateway key has the id '{id}' (see `retouch keys list`)");
            }
            eprintln!("Revoked {id}; running servers refuse it within a few seconds.");
        }
    }
    Ok(())
}

pub(crate) fn run_virtual_keys(args: VirtualKeysArgs) -> anyhow::Result<()> {
    let location = StateLocation::from_args(&args.state)?;
    // Read the secret before touching the database, so a missing one fails fast.
    let secret = match &args.command {
        VirtualKeysCommand::Add {
            provider, from_env, ..
        } => {
            if Provider::from_slug(provider).is_none() {
                bail!(
                    "--provider '{provider}' is not a provider; use one of {}",
                    Provider::ALL.map(Provider::slug).join(", ")
                );
            }
            Some(read_secret(from_env.as_deref())?)
        }
        VirtualKeysCommand::List | VirtualKeysCommand::Delete { .. } => None,
    };
    block_on(async move {
        ensure_dir(&location.data_dir)?;
        let store = location.open().await?;
        let result = virtual_keys(&location, &store, args.command, secret).await;
        store.close().await;
        result
    })
}

async fn virtual_keys(
    location: &StateLocation,
    store: &retouch_store::StateStore,
    command: VirtualKeysCommand,
    secret: Option<String>,
) -> anyhow::Result<()> {
    match command {
        VirtualKeysCommand::Add { provider, id, .. } => {
            let master = location.master_key()?;
            let id = id.unwrap_or_else(|| {
                let mut bytes = [0_u8; 4];
                rand::rng().fill_bytes(&mut bytes);
                format!("{provider}-{}", hex::encode(bytes))
            });
            let secret = secret.unwrap_or_default();
            let record = store
                .create_virtual_key(&master, &id, &provider, &secret)
                .await
                .context("storing the virtual key")?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", record.id)?;
            stdout.flush()?;
            eprintln!(
                "Stored a {} key as virtual key '{}'. Callers send `x-portkey-virtual-key: {}` \
                 (or \"virtual_key\" in a config target).",
                record.provider, record.id, record.id
            );
        }
        VirtualKeysCommand::List => {
            let rows = store
                .list_virtual_keys()
                .await?
                .into_iter()
                .map(|k| vec![k.id, k.provider, time(k.created_at)])
                .collect::<Vec<_>>();
            table(&["ID", "PROVIDER", "CREATED"], &rows)?;
        }
        VirtualKeysCommand::Delete { id } => {
            if !store.delete_virtual_key(&id).await? {
                bail!("no virtual key has the id '{id}' (see `retouch virtual-keys list`)");
            }
            eprintln!("Deleted virtual key {id}.");
        }
    }
    Ok(())
}

/// The provider secret: from `var`, or stdin (all of it when piped, one line from a terminal),
/// trimmed.
fn read_secret(var: Option<&str>) -> anyhow::Result<String> {
    let text = match var {
        Some(var) => std::env::var(var)
            .with_context(|| format!("--from-env: the environment variable {var} is not set"))?,
        None => {
            let stdin = std::io::stdin();
            let mut text = String::new();
            if stdin.is_terminal() {
                eprintln!("Paste the provider key, then press Enter:");
                stdin
                    .read_line(&mut text)
                    .context("reading the key from stdin")?;
            } else {
                stdin
                    .lock()
                    .read_to_string(&mut text)
                    .context("reading the key from stdin")?;
            }
            text
        }
    };
    let secret = text.trim().to_owned();
    if secret.is_empty() {
        bail!("no provider key given: pipe it on stdin or name a variable with --from-env");
    }
    Ok(secret)
}

/// A timestamp in UTC, to the second.
pub(crate) fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Prints rows under headers, columns padded to their widest cell.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut stdout = std::io::stdout().lock();
    let mut line = |cells: Vec<&str>| -> std::io::Result<()> {
        let text = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        writeln!(stdout, "{}", text.trim_end())
    };
    line(headers.to_vec())?;
    for row in rows {
        line(row.iter().map(String::as_str).collect())?;
    }
    stdout.flush()?;
    Ok(())
}
