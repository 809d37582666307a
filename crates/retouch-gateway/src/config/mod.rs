//! Portkey-compatible route configs, read in two phases: [`raw`] (serde, `deny_unknown_fields`)
//! then [`RouteConfig::from_json`] / [`RouteConfig::from_value`], which checks every value and
//! names the JSON path of the first bad one (`config.targets[1].weight: must be ≥ 0`).
//!
//! Also here: the server-side settings the binary's TOML file fills in ([`settings`]).

mod raw;
pub mod settings;
pub mod virtual_keys;

use std::time::Duration;

use retouch_api::ApiError;
use url::Url;

use crate::providers::Secret;
use crate::routing::condition::Query;
use crate::routing::retry::RetryPolicy;
use crate::routing::strategy::Strategy;
use raw::{RawConfig, RawRetry, RawStrategy};

pub use settings::{DefaultRoute, GatewaySettings, ModelAlias, ProviderEntry};
pub use virtual_keys::{VirtualCredential, VirtualKeys};

/// Most retries one target may ask for (Portkey documents "up to 5"; its code has no cap).
pub const MAX_RETRY_ATTEMPTS: u32 = 10;

/// Deepest nesting of `targets` accepted (a bound on recursion, far above any real config).
const MAX_DEPTH: usize = 8;

/// A bad config: where, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// JSON path of the bad value, e.g. `config.targets[1].weight`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The 400 a client gets for it, blaming `param` (usually `x-portkey-config`).
    pub fn to_api_error(&self, param: &str) -> ApiError {
        ApiError::invalid_request(format!("Invalid config: {self}"), Some(param))
            .with_code("invalid_config")
    }
}

/// A validated route config: a tree whose leaves are targets and whose inner nodes carry a
/// strategy over a non-empty list of children.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub(crate) root: Node,
}

/// One node of a [`RouteConfig`].
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `config`, `config.targets[1]`, … (reported in `x-portkey-last-used-option-index`).
    pub(crate) path: String,
    pub(crate) name: Option<String>,
    /// Load-balancing weight, ≥ 0; 0 is never chosen.
    pub(crate) weight: f64,
    pub(crate) settings: Inherited,
    pub(crate) kind: NodeKind,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    /// A target: one provider.
    Leaf(Leaf),
    /// A strategy over children (never empty).
    Group {
        strategy: Strategy,
        targets: Vec<Node>,
    },
}

/// What a target names about its provider.
#[derive(Debug, Clone, Default)]
pub(crate) struct Leaf {
    /// A provider slug, `local`, or the name of a `[providers.<name>]` entry.
    pub(crate) provider: Option<String>,
    pub(crate) api_key: Option<Secret>,
    pub(crate) virtual_key: Option<String>,
    pub(crate) resource_name: Option<String>,
    pub(crate) deployment_id: Option<String>,
    pub(crate) api_version: Option<String>,
    /// The upstream model to ask for (set by a model alias, never by JSON).
    pub(crate) model: Option<String>,
}

/// Settings a child inherits from its parent unless it sets its own (Portkey's rules: `retry`
/// replaces, `override_params` merges with the child winning, the rest inherit).
#[derive(Debug, Clone, Default)]
pub(crate) struct Inherited {
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) request_timeout: Option<Duration>,
    pub(crate) custom_host: Option<Url>,
    pub(crate) forward_headers: Option<Vec<String>>,
    pub(crate) override_params: serde_json::Map<String, serde_json::Value>,
}

impl Inherited {
    /// `self` (the child's own) on top of `parent`.
    pub(crate) fn over(&self, parent: &Self) -> Self {
        let mut override_params = parent.override_params.clone();
        override_params.extend(self.override_params.clone());
        Self {
            retry: self.retry.clone().or_else(|| parent.retry.clone()),
            request_timeout: self.request_timeout.or(parent.request_timeout),
            custom_host: self
                .custom_host
                .clone()
                .or_else(|| parent.custom_host.clone()),
            forward_headers: self
                .forward_headers
                .clone()
                .or_else(|| parent.forward_headers.clone()),
            override_params,
        }
    }
}

impl RouteConfig {
    /// Parses and validates a config from JSON text (the `x-portkey-config` header).
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ConfigError::new("config", format!("not valid JSON: {e}")))?;
        Self::from_value(value)
    }

    /// Validates a config already parsed as JSON (e.g. a `[configs.<id>]` TOML table).
    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        let root = node(value, "config".to_owned(), 0)?;
        Ok(Self { root })
    }

    /// A config with one target at the top.
    pub(crate) fn single(leaf: Leaf, settings: Inherited) -> Self {
        Self {
            root: Node {
                path: "config".to_owned(),
                name: None,
                weight: 1.0,
                settings,
                kind: NodeKind::Leaf(leaf),
            },
        }
    }
}

fn node(value: serde_json::Value, path: String, depth: usize) -> Result<Node, ConfigError> {
    if depth > MAX_DEPTH {
        return Err(ConfigError::new(
            path,
            format!("targets are nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    if !value.is_object() {
        return Err(ConfigError::new(path, "must be a JSON object"));
    }
    let raw: RawConfig =
        serde_json::from_value(value).map_err(|e| ConfigError::new(path.clone(), e.to_string()))?;
    let weight = match raw.weight {
        None => 1.0,
        Some(w) if w.is_finite() && w >= 0.0 => w,
        Some(_) => return Err(ConfigError::new(format!("{path}.weight"), "must be ≥ 0")),
    };
    let settings = inherited(&raw, &path)?;
    let name = raw.name.clone();
    let leaf_fields = raw_leaf_fields(&raw);
    let kind = match (raw.strategy, raw.targets) {
        (Some(strategy), targets) => {
            reject_target_fields(&leaf_fields, &path)?;
            let targets = targets.unwrap_or_default();
            if targets.is_empty() {
                return Err(ConfigError::new(
                    format!("{path}.targets"),
                    "must list at least one target",
                ));
            }
            let children = targets
                .into_iter()
                .enumerate()
                .map(|(i, t)| node(t, format!("{path}.targets[{i}]"), depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            let strategy = strategy_of(strategy, &children, &path)?;
            NodeKind::Group {
                strategy,
                targets: children,
            }
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                format!("{path}.strategy"),
                "is required when 'targets' is set",
            ));
        }
        (None, None) => NodeKind::Leaf(Leaf {
            provider: raw.provider.filter(|p| !p.is_empty()),
            api_key: raw.api_key.filter(|k| !k.is_empty()).map(Secret::new),
            virtual_key: raw.virtual_key.filter(|k| !k.is_empty()),
            resource_name: raw.resource_name,
            deployment_id: raw.deployment_id,
            api_version: raw.api_version,
            model: None,
        }),
    };
    Ok(Node {
        path,
        name,
        weight,
        settings,
        kind,
    })
}

/// The names of target-only fields a config with a strategy set.
fn raw_leaf_fields(raw: &RawConfig) -> Vec<&'static str> {
    [
        ("provider", raw.provider.is_some()),
        ("api_key", raw.api_key.is_some()),
        ("virtual_key", raw.virtual_key.is_some()),
        ("resource_name", raw.resource_name.is_some()),
        ("deployment_id", raw.deployment_id.is_some()),
        ("api_version", raw.api_version.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

fn reject_target_fields(fields: &[&str], path: &str) -> Result<(), ConfigError> {
    match fields.first() {
        Some(field) => Err(ConfigError::new(
            format!("{path}.{field}"),
            "belongs in a target: a config with a strategy routes to its 'targets'",
        )),
        None => Ok(()),
    }
}

fn inherited(raw: &RawConfig, path: &str) -> Result<Inherited, ConfigError> {
    let retry = raw
        .retry
        .as_ref()
        .map(|r| retry_of(r, &format!("{path}.retry")))
        .transpose()?;
    let request_timeout = match raw.request_timeout {
        None => None,
        Some(ms) if ms > 0 => Some(Duration::from_millis(ms.unsigned_abs())),
        Some(_) => {
            return Err(ConfigError::new(
                format!("{path}.request_timeout"),
                "must be a positive number of milliseconds",
            ));
        }
    };
    let custom_host = raw
        .custom_host
        .as_deref()
        .map(|h| custom_host(h, &format!("{path}.custom_host")))
        .transpose()?;
    if let Some(headers) = &raw.forward_headers {
        for (i, h) in headers.iter().enumerate() {
            if reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err(ConfigError::new(
                    format!("{path}.forward_headers[{i}]"),
                    "is not a valid header name",
                ));
            }
        }
    }
    Ok(Inherited {
        retry,
        request_timeout,
        custom_host,
        forward_headers: raw
            .forward_headers
            .as_ref()
            .map(|h| h.iter().map(|n| n.to_ascii_lowercase()).collect()),
        override_params: raw.override_params.clone().unwrap_or_default(),
    })
}

/// Parses a `custom_host` (Portkey semantics: it replaces the provider's base URL).
pub(crate) fn custom_host(text: &str, path: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim())
        .map_err(|e| ConfigError::new(path, format!("is not a URL: {e}")))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(ConfigError::new(path, "must be an http:// or https:// URL")),
    }
}

fn status_codes(codes: &[i64], path: &str) -> Result<Vec<u16>, ConfigError> {
    codes
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            u16::try_from(c)
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| {
                    ConfigError::new(format!("{path}[{i}]"), "must be an HTTP status 100–599")
                })
        })
        .collect()
}

fn retry_of(raw: &RawRetry, path: &str) -> Result<RetryPolicy, ConfigError> {
    let attempts = u32::try_from(raw.attempts)
        .ok()
        .filter(|a| *a <= MAX_RETRY_ATTEMPTS)
        .ok_or_else(|| {
            ConfigError::new(
                format!("{path}.attempts"),
                format!("must be between 0 and {MAX_RETRY_ATTEMPTS}"),
            )
        })?;
    let on_status_codes = match &raw.on_status_codes {
        Some(codes) => status_codes(codes, &format!("{path}.on_status_codes"))?,
        None => RetryPolicy::DEFAULT_STATUS_CODES.to_vec(),
    };
    Ok(RetryPolicy {
        attempts,
        on_status_codes,
        use_retry_after_header: raw.use_retry_after_header.unwrap_or(false),
    })
}

fn strategy_of(raw: RawStrategy, children: &[Node], path: &str) -> Result<Strategy, ConfigError> {
    let spath = format!("{path}.strategy");
    let codes = raw
        .on_status_codes
        .as_deref()
        .map(|c| status_codes(c, &format!("{spath}.on_status_codes")))
        .transpose()?;
    match raw.mode.as_str() {
        "single" => Ok(Strategy::Single),
        "fallback" => Ok(Strategy::Fallback {
            on_status_codes: codes,
        }),
        "loadbalance" => {
            if children.iter().all(|c| c.weight <= 0.0) {
                return Err(ConfigError::new(
                    format!("{path}.targets"),
                    "at least one target needs a weight above 0",
                ));
            }
            Ok(Strategy::Loadbalance)
        }
        "conditional" => {
            let names: Vec<&str> = children.iter().filter_map(|c| c.name.as_deref()).collect();
            let known = |name: &str, at: String| {
                if names.contains(&name) {
                    Ok(name.to_owned())
                } else {
                    Err(ConfigError::new(
                        at,
                        format!("names no target ('{name}'); give the target a matching 'name'"),
                    ))
                }
            };
            let raw_conditions = raw.conditions.unwrap_or_default();
            if raw_conditions.is_empty() {
                return Err(ConfigError::new(
                    format!("{spath}.conditions"),
                    "must list at least one condition for mode 'conditional'",
                ));
            }
            let mut conditions = Vec::with_capacity(raw_conditions.len());
            for (i, c) in raw_conditions.into_iter().enumerate() {
                let at = format!("{spath}.conditions[{i}]");
                let query = Query::parse(&c.query, &format!("{at}.query"))?;
                let then = known(&c.then, format!("{at}.then"))?;
                conditions.push((query, then));
            }
            let default = raw
                .default
                .map(|d| known(&d, format!("{spath}.default")))
                .transpose()?;
            Ok(Strategy::Conditional {
                conditions,
                default,
            })
        }
        other => Err(ConfigError::new(
            format!("{spath}.mode"),
            format!(
                "'{other}' is not a mode; use 'single', 'fallback', 'loadbalance' or 'conditional'"
            ),
        )),
    }
}

impl From<ConfigError> for ApiError {
    fn from(e: ConfigError) -> Self {
        e.to_api_error("x-portkey-config")
    }
}
