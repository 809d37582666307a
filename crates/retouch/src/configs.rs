//! `retouch configs` (Portkey configs saved in the state store, used by id in
//! `x-portkey-config`) and `retouch config check` (the server TOML validated as `serve` would,
//! without binding anything).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use retouch_gateway::RouteConfig;
use retouch_gateway::config::{DefaultRoute, ModelAlias};
use retouch_store::StoreLocation;

use crate::config::FileConfig;
use crate::keys::{table, time};
use crate::state::{StateArgs, StateLocation, block_on, ensure_dir};

/// `retouch configs …`
#[derive(Debug, Args)]
pub(crate) struct ConfigsArgs {
    #[command(flatten)]
    state: StateArgs,
    #[command(subcommand)]
    command: ConfigsCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigsCommand {
    /// Validate a Portkey config (JSON file) and save it under an id, replacing any there.
    Put {
        /// The id callers send in x-portkey-config.
        id: String,
        /// The config, as JSON.
        file: PathBuf,
    },
    /// List saved configs.
    List,
    /// Delete a saved config.
    Delete {
        /// The config's id.
        id: String,
    },
}

pub(crate) fn run_configs(args: ConfigsArgs) -> anyhow::Result<()> {
    let location = StateLocation::from_args(&args.state)?;
    // Validate before opening anything, so a bad file changes nothing.
    let body = match &args.command {
        ConfigsCommand::Put { file, .. } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            RouteConfig::from_json(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            Some(text)
        }
        ConfigsCommand::List | ConfigsCommand::Delete { .. } => None,
    };
    block_on(async move {
        if location.database_url.is_none() {
            ensure_dir(&location.data_dir)?;
        }
        let store = location.open().await?;
        let result = configs(&store, args.command, body).await;
        store.close().await;
        result
    })
}

async fn configs(
    store: &retouch_store::StateStore,
    command: ConfigsCommand,
    body: Option<String>,
) -> anyhow::Result<()> {
    match command {
        ConfigsCommand::Put { id, .. } => {
            let saved = store
                .put_config(&id, body.as_deref().unwrap_or_default())
                .await
                .context("saving the config")?;
            eprintln!(
                "Saved config '{}'. Callers send `x-portkey-config: {}`.",
                saved.id, saved.id
            );
        }
        ConfigsCommand::List => {
            let rows = store
                .list_configs()
                .await?
                .into_iter()
                .map(|c| {
                    vec![
                        c.id,
                        format!("{} bytes", c.body.len()),
                        time(c.created_at),
                        time(c.updated_at),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["ID", "SIZE", "CREATED", "UPDATED"], &rows)?;
        }
        ConfigsCommand::Delete { id } => {
            if !store.delete_config(&id).await? {
                bail!("no config is saved as '{id}' (see `retouch configs list`)");
            }
            eprintln!("Deleted config {id}.");
        }
    }
    Ok(())
}

/// `retouch config …`
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load and validate the server's TOML file as `serve` would, without starting it.
    Check {
        /// The file to check.
        #[arg(long, env = "RETOUCH_CONFIG")]
        config: Option<PathBuf>,
    },
}

/// Runs `config check`: `Ok(true)` when the file is good (a summary was printed), `Ok(false)`
/// when it is not (each problem was printed on stderr).
pub(crate) fn run_config(args: ConfigArgs) -> anyhow::Result<bool> {
    let ConfigCommand::Check { config } = args.command;
    let (file, source) = match &config {
        Some(path) => match FileConfig::load(path) {
            Ok(file) => (file, path.display().to_string()),
            Err(error) => {
                eprintln!("error: {error:#}");
                return Ok(false);
            }
        },
        None => (FileConfig::default(), "the built-in defaults".to_owned()),
    };
    let mut problems = Vec::new();
    let settings = match file.gateway_settings_all(|var| std::env::var(var).ok()) {
        Ok(settings) => Some(settings),
        Err(errors) => {
            problems.extend(errors);
            None
        }
    };
    if let Some(spec) = &file.server.store
        && let Err(error) = spec.parse::<StoreLocation>()
    {
        problems.push(format!("server.store: {error}"));
    }
    if let Some(url) = &file.server.database_url
        && !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.starts_with(scheme))
    {
        problems.push(
            "server.database_url: expected sqlite://… or postgres://… (the URL is not shown)"
                .to_owned(),
        );
    }
    if let Some(url) = &file.server.public_url
        && url::Url::parse(url).is_err()
    {
        problems.push(format!("server.public_url: '{url}' is not a URL"));
    }
    let Some(settings) = settings.filter(|_| problems.is_empty()) else {
        for problem in &problems {
            eprintln!("error: {source}: {problem}");
        }
        return Ok(false);
    };
    let location = StateLocation::resolve(None, None, &file);
    let mut out = std::io::stdout().lock();
    writeln!(out, "ok: {source}")?;
    let providers = settings
        .providers
        .iter()
        .map(|(name, entry)| format!("{name} ({})", entry.provider.slug()))
        .collect::<Vec<_>>();
    writeln!(out, "  providers: {}", list(&providers))?;
    let aliases = settings
        .models
        .iter()
        .map(|(alias, target)| match target {
            ModelAlias::Target { provider, model } => match model {
                Some(model) => format!("{alias} -> {provider}/{model}"),
                None => format!("{alias} -> {provider}"),
            },
            ModelAlias::Config(id) => format!("{alias} -> config {id}"),
        })
        .collect::<Vec<_>>();
    writeln!(out, "  models: {}", list(&aliases))?;
    let configs = settings.configs.keys().cloned().collect::<Vec<_>>();
    writeln!(out, "  configs: {}", list(&configs))?;
    let route = match &settings.default_route {
        DefaultRoute::Local => "local engine".to_owned(),
        DefaultRoute::Provider(name) => format!("provider {name}"),
        DefaultRoute::Config(id) => format!("config {id}"),
    };
    writeln!(out, "  default route: {route}")?;
    writeln!(
        out,
        "  server: {}:{}, data dir {}, state {}, auth {}",
        file.server
            .host
            .map_or_else(|| "127.0.0.1".to_owned(), |h| h.to_string()),
        file.server.port.unwrap_or(8787),
        location.data_dir.display(),
        location.describe(),
        if file.server.require_auth.unwrap_or(false) {
            "required"
        } else {
            "required once gateway keys exist"
        }
    )?;
    out.flush()?;
    Ok(true)
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}
