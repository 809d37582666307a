//! Server-side gateway settings (filled in from the binary's TOML file): named providers with
//! their credentials, model aliases, named configs usable by id in `x-portkey-config`, and the
//! route taken when a request names none.

use std::collections::BTreeMap;

use url::Url;

use super::RouteConfig;
use crate::limits::ConcurrencyCap;
use crate::providers::{AzureSettings, Provider, Secret};

/// A provider configured on the server (`[providers.<name>]`).
#[derive(Debug, Clone)]
pub struct ProviderEntry {
    /// Which adapter speaks to it.
    pub provider: Provider,
    /// Base URL; `None` uses the provider's default.
    pub base_url: Option<Url>,
    /// The server's credential for it (used when the request brings none).
    pub api_key: Option<Secret>,
    /// Azure settings (Azure OpenAI only).
    pub azure: Option<AzureSettings>,
    /// `max_concurrency`: the most upstream calls this replica has open to the provider at
    /// once, over all requests and their fanned-out calls; `None` for no cap.
    pub max_concurrency: Option<ConcurrencyCap>,
}

/// What a model alias (`[models]`) stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelAlias {
    /// A provider (slug, `local`, or a `[providers]` name), optionally with the upstream model
    /// name sent in its place.
    Target {
        /// The provider.
        provider: String,
        /// The model the provider is asked for; `None` keeps the alias.
        model: Option<String>,
    },
    /// A named config (`[configs.<id>]`).
    Config(String),
}

/// Where a request goes when it names no provider and no config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DefaultRoute {
    /// The embedded engine (out of the box).
    #[default]
    Local,
    /// A provider (slug or `[providers]` name).
    Provider(String),
    /// A named config.
    Config(String),
}

/// Everything the server configured about routing.
#[derive(Debug, Clone, Default)]
pub struct GatewaySettings {
    /// `[providers.<name>]`.
    pub providers: BTreeMap<String, ProviderEntry>,
    /// `[models]`.
    pub models: BTreeMap<String, ModelAlias>,
    /// `[configs.<id>]`.
    pub configs: BTreeMap<String, RouteConfig>,
    /// `[routes] default`.
    pub default_route: DefaultRoute,
}

impl GatewaySettings {
    /// Checks that every name refers to something that exists, so a typo fails at start-up
    /// rather than on the first request. Returns the first problem found.
    pub fn check(&self) -> Result<(), String> {
        let provider_known = |name: &str| {
            name == "local"
                || Provider::from_slug(name).is_some()
                || self.providers.contains_key(name)
        };
        for (alias, target) in &self.models {
            match target {
                ModelAlias::Target { provider, .. } if !provider_known(provider) => {
                    return Err(format!("models.{alias}: unknown provider '{provider}'"));
                }
                ModelAlias::Config(id) if !self.configs.contains_key(id) => {
                    return Err(format!("models.{alias}: unknown config '{id}'"));
                }
                ModelAlias::Target { .. } | ModelAlias::Config(_) => {}
            }
        }
        match &self.default_route {
            DefaultRoute::Provider(name) if !provider_known(name) => {
                Err(format!("routes.default: unknown provider '{name}'"))
            }
            DefaultRoute::Config(id) if !self.configs.contains_key(id) => {
                Err(format!("routes.default: unknown config '{id}'"))
            }
            DefaultRoute::Local | DefaultRoute::Provider(_) | DefaultRoute::Config(_) => Ok(()),
        }
    }
}
