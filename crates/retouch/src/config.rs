//! The TOML configuration file (`retouch serve --config FILE`).
//!
//! Read in two phases: this raw, `deny_unknown_fields` shape first, so a typo is an error that
//! names the key; values are then merged under the command-line flags in `serve`.
//!
//! The gateway tables — `[providers.<name>]`, `[models]`, `[configs.<id>]`, `[routes]` — become
//! [`GatewaySettings`] in [`FileConfig::gateway_settings`], which reads secrets named by
//! `api_key_env` from the environment and checks every cross-reference.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use retouch_gateway::config::{DefaultRoute, ModelAlias, ProviderEntry};
use retouch_gateway::{AzureApi, AzureSettings, GatewaySettings, Provider, RouteConfig, Secret};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    #[serde(default)]
    pub(crate) server: ServerSection,
    #[serde(default)]
    pub(crate) engine: EngineSection,
    #[serde(default)]
    pub(crate) limits: LimitsSection,
    #[serde(default)]
    pub(crate) providers: BTreeMap<String, ProviderSection>,
    #[serde(default)]
    pub(crate) models: BTreeMap<String, ModelSection>,
    /// Portkey config objects, usable by id in `x-portkey-config`.
    #[serde(default)]
    pub(crate) configs: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub(crate) routes: RoutesSection,
}

/// `[providers.<name>]`: a provider the server can route to, with its credential.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderSection {
    /// The adapter: `openai`, `azure-openai`, `stability-ai`, `a1111`, `gemini`, `iopaint`,
    /// `openai-compatible`.
    pub(crate) kind: String,
    pub(crate) base_url: Option<String>,
    /// The key itself (prefer `api_key_env`, which keeps it out of the file).
    pub(crate) api_key: Option<String>,
    /// The environment variable holding the key.
    pub(crate) api_key_env: Option<String>,
    pub(crate) resource_name: Option<String>,
    pub(crate) deployment_id: Option<String>,
    pub(crate) api_version: Option<String>,
    /// Most upstream calls open to this provider at once, per replica (no cap when absent).
    pub(crate) max_concurrency: Option<std::num::NonZeroUsize>,
}

/// One `[models]` alias: `{ provider = "a1111", model = "…" }` or `{ config = "<id>" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelSection {
    pub(crate) provider: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) config: Option<String>,
}

/// `[routes]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoutesSection {
    /// `local` (the default), a provider, or a config id.
    pub(crate) default: Option<String>,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    pub(crate) host: Option<IpAddr>,
    pub(crate) port: Option<u16>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) public_url: Option<String>,
    pub(crate) store: Option<String>,
    pub(crate) link_ttl: Option<u64>,
    pub(crate) max_body_bytes: Option<u64>,
    pub(crate) body_timeout: Option<u64>,
    pub(crate) shutdown_timeout: Option<u64>,
    pub(crate) insecure_no_auth: Option<bool>,
    /// State database URL (`postgres://…` or `sqlite://…`); default `<data_dir>/retouch.db`.
    pub(crate) database_url: Option<String>,
    /// Require a gateway key on `/v1` even before any exists.
    pub(crate) require_auth: Option<bool>,
    /// Redis (`redis://…`, or `rediss://…` for TLS) for rate-limit budgets shared by every
    /// replica; default in process.
    pub(crate) redis_url: Option<String>,
    /// PEM file of the CA that signed a `rediss://` server's certificate; default: the
    /// system's trust store.
    pub(crate) redis_ca_file: Option<PathBuf>,
}

/// `[limits]`: per-caller rate limits (none by default).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsSection {
    /// Requests to `/v1/images/edits` per minute for each gateway key (or client address).
    pub(crate) requests_per_minute: Option<u32>,
}

/// `[engine]`: the local content-aware fill engine.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EngineSection {
    pub(crate) workers: Option<usize>,
    pub(crate) queue: Option<usize>,
    pub(crate) max_pixels: Option<u64>,
}

impl FileConfig {
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in the config file {}", path.display()))
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    /// The gateway tables as validated settings; `env` looks up `api_key_env` variables.
    /// Fails with every problem found, one per line.
    pub(crate) fn gateway_settings(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<GatewaySettings> {
        self.gateway_settings_all(env)
            .map_err(|problems| anyhow::Error::msg(problems.join("\n")))
    }

    /// As [`gateway_settings`](Self::gateway_settings), with each problem (naming its path)
    /// as one entry, so `retouch config check` can list them all.
    pub(crate) fn gateway_settings_all(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<GatewaySettings, Vec<String>> {
        let mut settings = GatewaySettings::default();
        let mut problems = Vec::new();
        for (name, section) in &self.providers {
            match provider_entry(name, section, &env) {
                Ok(entry) => {
                    settings.providers.insert(name.clone(), entry);
                }
                Err(error) => problems.push(format!("{error:#}")),
            }
        }
        for (id, value) in &self.configs {
            let config = serde_json::to_value(value)
                .map_err(|_| format!("configs.{id}: not representable as JSON"))
                .and_then(|json| {
                    RouteConfig::from_value(json).map_err(|e| {
                        format!(
                            "configs.{id}: {}",
                            e.to_string()
                                .replacen("config", "", 1)
                                .trim_start_matches('.')
                        )
                    })
                });
            match config {
                Ok(config) => {
                    settings.configs.insert(id.clone(), config);
                }
                Err(problem) => problems.push(problem),
            }
        }
        for (alias, section) in &self.models {
            let target = match (&section.provider, &section.config, &section.model) {
                (Some(provider), None, model) => ModelAlias::Target {
                    provider: provider.clone(),
                    model: model.clone(),
                },
                (None, Some(config), None) => ModelAlias::Config(config.clone()),
                (Some(_), Some(_), _) | (None, Some(_), Some(_)) | (None, None, _) => {
                    problems.push(format!(
                        "models.{alias}: give either provider (and optionally model) or config"
                    ));
                    continue;
                }
            };
            settings.models.insert(alias.clone(), target);
        }
        settings.default_route = match self.routes.default.as_deref() {
            None | Some("local") => DefaultRoute::Local,
            Some(id) if self.configs.contains_key(id) => DefaultRoute::Config(id.to_owned()),
            Some(name) => DefaultRoute::Provider(name.to_owned()),
        };
        // Cross-references are checked once everything they point at parsed; before that a
        // broken config would be reported twice.
        if problems.is_empty()
            && let Err(problem) = settings.check()
        {
            problems.push(problem);
        }
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(problems)
        }
    }
}

fn provider_entry(
    name: &str,
    section: &ProviderSection,
    env: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<ProviderEntry> {
    let provider = Provider::from_slug(&section.kind).with_context(|| {
        format!(
            "providers.{name}.kind: '{}' is not a provider; use one of {}",
            section.kind,
            Provider::ALL.map(Provider::slug).join(", ")
        )
    })?;
    let base_url = section
        .base_url
        .as_deref()
        .map(url::Url::parse)
        .transpose()
        .with_context(|| format!("providers.{name}.base_url is not a URL"))?;
    let api_key = match (&section.api_key, &section.api_key_env) {
        (Some(_), Some(_)) => bail!("providers.{name}: set api_key or api_key_env, not both"),
        (Some(key), None) => Some(Secret::new(key.clone())),
        (None, Some(var)) => Some(Secret::new(env(var).with_context(|| {
            format!("providers.{name}.api_key_env: the environment variable {var} is not set")
        })?)),
        (None, None) => None,
    };
    let azure = (provider == Provider::AzureOpenAi).then(|| AzureSettings {
        resource: section.resource_name.clone(),
        api: match (&section.deployment_id, section.api_version.as_deref()) {
            (Some(deployment), version) if version != Some("v1") => AzureApi::Deployment {
                deployment: deployment.clone(),
                api_version: version
                    .unwrap_or(retouch_gateway::providers::AZURE_DEFAULT_API_VERSION)
                    .to_owned(),
            },
            (Some(_) | None, _) => AzureApi::V1 {
                api_version: "preview".to_owned(),
            },
        },
        entra_token: false,
    });
    Ok(ProviderEntry {
        provider,
        base_url,
        api_key,
        azure,
        max_concurrency: section
            .max_concurrency
            .map(retouch_gateway::limits::ConcurrencyCap::new),
    })
}

#[cfg(test)]
mod tests {
    use super::FileConfig;

    #[test]
    fn reads_known_keys_and_names_unknown_ones() {
        let config = FileConfig::parse("[server]\nport = 9000\n[engine]\nworkers = 3\n").unwrap();
        assert_eq!(config.server.port, Some(9000));
        assert_eq!(config.engine.workers, Some(3));
        let error = FileConfig::parse("[server]\nprot = 9000\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("prot"), "{error}");
    }

    const GATEWAY: &str = r#"
[providers.upstream]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "TEST_OPENAI_KEY"

[models]
"sd-inpaint" = { provider = "upstream", model = "gpt-image-1" }
"safe" = { config = "safe" }

[configs.safe]
strategy = { mode = "fallback", on_status_codes = [503] }
targets = [{ provider = "upstream" }, { provider = "local" }]

[routes]
default = "safe"
"#;

    #[test]
    fn gateway_tables_become_settings_with_secrets_from_the_environment() {
        let config = FileConfig::parse(GATEWAY).unwrap();
        let settings = config
            .gateway_settings(|var| (var == "TEST_OPENAI_KEY").then(|| "sk-env".to_owned()))
            .unwrap();
        let entry = &settings.providers["upstream"];
        assert_eq!(format!("{:?}", entry.api_key), "Some(***)");
        assert!(settings.configs.contains_key("safe"));
        assert_eq!(settings.models.len(), 2);
        assert_eq!(
            settings.default_route,
            retouch_gateway::config::DefaultRoute::Config("safe".into())
        );
        let missing = config.gateway_settings(|_| None).unwrap_err().to_string();
        assert!(missing.contains("TEST_OPENAI_KEY"), "{missing}");
    }

    #[test]
    fn bad_gateway_tables_name_what_is_wrong() {
        let bad_weight = GATEWAY.replace(
            "{ provider = \"local\" }",
            "{ provider = \"local\", weight = -1 }",
        );
        let e = FileConfig::parse(&bad_weight)
            .unwrap()
            .gateway_settings(|_| Some("k".into()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("configs.safe") && e.contains("targets[1].weight"),
            "{e}"
        );
        let bad_alias = GATEWAY.replace(
            "provider = \"upstream\", model",
            "provider = \"nowhere\", model",
        );
        let e = FileConfig::parse(&bad_alias)
            .unwrap()
            .gateway_settings(|_| Some("k".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nowhere"), "{e}");
    }

    #[test]
    fn limits_redis_and_provider_concurrency_are_read() {
        let config = FileConfig::parse(
            "[server]\nredis_url = \"redis://127.0.0.1:6379\"\n\
             [limits]\nrequests_per_minute = 60\n\
             [providers.lama]\nkind = \"iopaint\"\nmax_concurrency = 2\n",
        )
        .unwrap();
        assert_eq!(
            config.server.redis_url.as_deref(),
            Some("redis://127.0.0.1:6379")
        );
        assert_eq!(config.limits.requests_per_minute, Some(60));
        let settings = config.gateway_settings(|_| None).unwrap();
        let cap = settings.providers["lama"].max_concurrency.as_ref().unwrap();
        assert_eq!(cap.max(), 2);
        // No cap unless asked; 0 is refused (a provider nobody may call is a typo).
        let open = FileConfig::parse("[providers.lama]\nkind = \"iopaint\"\n").unwrap();
        let settings = open.gateway_settings(|_| None).unwrap();
        assert!(settings.providers["lama"].max_concurrency.is_none());
        assert!(
            FileConfig::parse("[providers.lama]\nkind = \"iopaint\"\nmax_concurrency = 0\n")
                .is_err()
        );
        let error = FileConfig::parse("[limits]\nrequests_per_hour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("requests_per_hour"), "{error}");
    }
}
