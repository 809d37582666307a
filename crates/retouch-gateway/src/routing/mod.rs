//! The routing executor: walks a validated [`RouteConfig`] with its [`Strategy`]s, runs each
//! chosen target through the [`retry`] policy with a per-attempt deadline, and reports which
//! target answered (Portkey's `x-portkey-last-used-option-index`) and how many retries it took.
//!
//! Every target validates the request with its own model's rules before any upstream call, so
//! a request the target cannot take is refused with OpenAI's 400 and never sent.

pub(crate) mod condition;
mod overrides;
pub mod retry;
pub(crate) mod strategy;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::header::{HeaderName, HeaderValue};
use retouch_api::{ApiError, EditRequest, ModelRules, ValidatedEdit};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Gateway;
use crate::config::{Inherited, Leaf, ModelAlias, Node, NodeKind, RouteConfig, VirtualKeys};
use crate::output::{EditCall, EditEvent, EditOutput, ProviderKind};
use crate::providers::{
    AZURE_DEFAULT_API_VERSION, AzureApi, AzureSettings, Provider, ProviderOutput, ProviderTarget,
    Secret,
};
use retry::{RetryPolicy, routing_status};
use strategy::Strategy;

/// The model name the local engine reports.
pub const LOCAL_MODEL: &str = "retouch-fill";

/// Extra time the adapter's own deadline gets over ours, so the caller sees our 408 (the
/// timeout it asked for) rather than the adapter's 504.
const ADAPTER_GRACE: Duration = Duration::from_secs(1);

/// One request to route, with everything the caller's headers said.
#[derive(Debug, Clone)]
pub struct RouteRequest {
    /// The parsed request (file bytes shared, never copied).
    pub request: Arc<EditRequest>,
    /// The config the request named (`x-portkey-config`, or built from `x-portkey-provider`
    /// and friends); `None` takes a model alias or the server's default route.
    pub config: Option<RouteConfig>,
    /// The caller's own provider key (`x-portkey-api-key`, else `Authorization: Bearer`); used
    /// only for targets the request itself named, never for the server's own routes.
    pub caller_key: Option<Secret>,
    /// `x-portkey-metadata`, the facts for `metadata.*` conditions.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The client's headers that `forward_headers` may copy upstream.
    pub client_headers: Vec<(HeaderName, HeaderValue)>,
    /// `x-portkey-request-timeout`; wins over the config's `request_timeout`.
    pub request_timeout: Option<Duration>,
    /// `x-portkey-forward-headers`; wins over the config's `forward_headers`.
    pub forward_headers: Option<Vec<String>>,
    /// Cancelled when the client goes away.
    pub cancel: CancellationToken,
    /// Where targets' `virtual_key` ids are looked up; `None` means the server keeps none, so
    /// a target naming one is refused.
    pub virtual_keys: Option<Arc<dyn VirtualKeys>>,
}

impl RouteRequest {
    /// A request with no routing headers (the default route).
    pub fn new(request: Arc<EditRequest>, cancel: CancellationToken) -> Self {
        Self {
            request,
            config: None,
            caller_key: None,
            metadata: serde_json::Map::new(),
            client_headers: Vec::new(),
            request_timeout: None,
            forward_headers: None,
            cancel,
            virtual_keys: None,
        }
    }
}

/// Which target answered and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteReport {
    /// The provider of the last target tried.
    pub provider: ProviderKind,
    /// Its path in the config (`config`, `config.targets[1]`, …).
    pub option_index: String,
    /// Retries on that target: 0 when the first attempt answered, N after N retries, -1 when
    /// every retry failed.
    pub retry_count: i64,
    /// The model reported back.
    pub model: String,
    /// The upstream's request id, when it sent one.
    pub upstream_request_id: Option<String>,
}

/// What the chosen target produced.
#[derive(Debug)]
pub enum RoutedOutput {
    /// The local engine's finished images.
    Local(EditOutput),
    /// The local engine's running edit (`stream=true`).
    LocalStream(mpsc::Receiver<Result<EditEvent, ApiError>>),
    /// A provider's answer.
    Remote(ProviderOutput),
}

/// A routed edit.
#[derive(Debug)]
pub struct Routed {
    /// The result.
    pub output: RoutedOutput,
    /// Which target answered.
    pub report: RouteReport,
    /// The request as the target saw it (after `override_params`).
    pub request: Arc<EditRequest>,
    /// Its parameters under the target model's rules (how to render the answer).
    pub edit: ValidatedEdit,
}

/// A routed edit that failed.
#[derive(Debug)]
pub struct RouteFailure {
    /// The error for the client (OpenAI-shaped, never holding a key).
    pub error: ApiError,
    /// The last target tried, when one was reached.
    pub report: Option<RouteReport>,
    /// The caller's own fault or a config fault: no other target would do better.
    terminal: bool,
}

impl RouteFailure {
    fn terminal(error: ApiError, report: Option<RouteReport>) -> Self {
        Self {
            error,
            report,
            terminal: true,
        }
    }
}

impl From<ApiError> for RouteFailure {
    fn from(error: ApiError) -> Self {
        Self::terminal(error, None)
    }
}

/// Where a target's provider name leads.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one short-lived value per target per request; boxing would only add an allocation"
)]
enum Resolved {
    Local,
    Remote {
        provider: Provider,
        base_url: Option<url::Url>,
        api_key: Option<Secret>,
        azure: Option<AzureSettings>,
        concurrency: Option<crate::limits::ConcurrencyCap>,
    },
}

impl Gateway {
    /// Routes an edit: picks the config (the request's, a model alias's, or the default
    /// route), walks it, and returns the first answer its strategies accept.
    pub async fn route(&self, route: RouteRequest) -> Result<Routed, RouteFailure> {
        let (config, named) = match &route.config {
            Some(config) => (config.clone(), true),
            None => (self.implicit_config(&route.request)?, false),
        };
        let facts = serde_json::json!({
            "metadata": route.metadata,
            "params": overrides::params_facts(&route.request),
            "url": { "pathname": "/v1/images/edits" },
        });
        let run = Run {
            gateway: self,
            route: &route,
            facts,
            named,
        };
        run.node(&config.root, &Inherited::default()).await
    }

    /// The route for a request that named none: its model's alias, else the default route.
    fn implicit_config(&self, request: &EditRequest) -> Result<RouteConfig, ApiError> {
        let settings = self.settings();
        let alias = request
            .model
            .as_deref()
            .and_then(|m| settings.models.get(m));
        let named_config = |id: &str| {
            settings.configs.get(id).cloned().ok_or_else(|| {
                ApiError::internal(format!(
                    "the server names config '{id}', which is not defined"
                ))
            })
        };
        let leaf = |provider: &str, model: Option<String>| {
            RouteConfig::single(
                Leaf {
                    provider: Some(provider.to_owned()),
                    model,
                    ..Leaf::default()
                },
                Inherited::default(),
            )
        };
        match alias {
            Some(ModelAlias::Target { provider, model }) => Ok(leaf(provider, model.clone())),
            Some(ModelAlias::Config(id)) => named_config(id),
            None => match &settings.default_route {
                crate::config::DefaultRoute::Local => Ok(leaf("local", None)),
                crate::config::DefaultRoute::Provider(name) => Ok(leaf(name, None)),
                crate::config::DefaultRoute::Config(id) => named_config(id),
            },
        }
    }

    fn resolve(&self, name: &str, path: &str) -> Result<Resolved, ApiError> {
        if name == "local" || name == LOCAL_MODEL {
            return Ok(Resolved::Local);
        }
        if let Some(entry) = self.settings().providers.get(name) {
            return Ok(Resolved::Remote {
                provider: entry.provider,
                base_url: entry.base_url.clone(),
                api_key: entry.api_key.clone(),
                azure: entry.azure.clone(),
                concurrency: entry.max_concurrency.clone(),
            });
        }
        match Provider::from_slug(name) {
            Some(provider) => Ok(Resolved::Remote {
                provider,
                base_url: None,
                api_key: None,
                azure: None,
                concurrency: None,
            }),
            None => Err(crate::config::ConfigError {
                path: format!("{path}.provider"),
                message: format!(
                    "'{name}' is not a provider; use one of 'local', {}, or a provider configured on the server",
                    Provider::ALL
                        .iter()
                        .map(|p| format!("'{}'", p.slug()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
            .into()),
        }
    }
}

struct Run<'a> {
    gateway: &'a Gateway,
    route: &'a RouteRequest,
    facts: serde_json::Value,
    /// The request named the config itself (its own key may be used).
    named: bool,
}

impl<'a> Run<'a> {
    fn node(
        &'a self,
        node: &'a Node,
        parent: &'a Inherited,
    ) -> BoxFuture<'a, Result<Routed, RouteFailure>> {
        Box::pin(async move {
            let settings = node.settings.over(parent);
            let (strategy, targets) = match &node.kind {
                NodeKind::Leaf(leaf) => return self.leaf(node, leaf, &settings).await,
                NodeKind::Group { strategy, targets } => (strategy, targets),
            };
            let no_target = |what: &str| {
                RouteFailure::terminal(
                    ApiError::invalid_request(
                        format!("Invalid config: {}.strategy: {what}", node.path),
                        Some("x-portkey-config"),
                    )
                    .with_code("invalid_config"),
                    None,
                )
            };
            match strategy {
                Strategy::Single => {
                    let first = targets.first().ok_or_else(|| no_target("no target"))?;
                    self.node(first, &settings).await
                }
                Strategy::Fallback { on_status_codes } => {
                    let mut last = None;
                    for target in targets {
                        match self.node(target, &settings).await {
                            Ok(routed) => return Ok(routed),
                            Err(failure) => {
                                let moves_on = !failure.terminal
                                    && on_status_codes.as_ref().is_none_or(|codes| {
                                        codes.contains(&routing_status(&failure.error))
                                    });
                                if !moves_on {
                                    return Err(failure);
                                }
                                last = Some(failure);
                            }
                        }
                    }
                    Err(last.unwrap_or_else(|| no_target("no target")))
                }
                Strategy::Loadbalance => {
                    let index = strategy::pick_weighted(targets, &mut strategy::rng())
                        .ok_or_else(|| no_target("every weight is 0"))?;
                    let chosen = targets.get(index).ok_or_else(|| no_target("no target"))?;
                    self.node(chosen, &settings).await
                }
                Strategy::Conditional {
                    conditions,
                    default,
                } => {
                    let index = strategy::pick_conditional(
                        targets,
                        conditions,
                        default.as_deref(),
                        &self.facts,
                    )
                    .ok_or_else(|| {
                        RouteFailure::terminal(
                            ApiError::invalid_request(
                                format!(
                                    "No condition of {}.strategy matched this request and the config has no default target.",
                                    node.path
                                ),
                                Some("x-portkey-config"),
                            )
                            .with_code("no_route"),
                            None,
                        )
                    })?;
                    let chosen = targets.get(index).ok_or_else(|| no_target("no target"))?;
                    self.node(chosen, &settings).await
                }
            }
        })
    }

    async fn leaf(
        &self,
        node: &Node,
        leaf: &Leaf,
        settings: &Inherited,
    ) -> Result<Routed, RouteFailure> {
        let gateway = self.gateway;
        let route = self.route;
        // A target with no provider may still be reached through the request's model alias.
        let alias = route
            .request
            .model
            .as_deref()
            .and_then(|m| gateway.settings().models.get(m));
        let virtual_key = match &leaf.virtual_key {
            Some(id) => Some(self.virtual_key(id, &node.path).await?),
            None => None,
        };
        // The target's own provider wins; a virtual key supplies one when the target has none.
        let provider = leaf
            .provider
            .as_ref()
            .or(virtual_key.as_ref().map(|vk| &vk.provider));
        let (provider_name, alias_model) = match (provider, alias) {
            (Some(name), _) => (name.clone(), leaf.model.clone()),
            (None, Some(ModelAlias::Target { provider, model })) => {
                (provider.clone(), model.clone())
            }
            (None, Some(ModelAlias::Config(_)) | None) => {
                return Err(ApiError::invalid_request(
                    format!(
                        "{} names no provider: set 'provider' in the config, send x-portkey-provider, or configure a default route.",
                        node.path
                    ),
                    Some("x-portkey-provider"),
                )
                .with_code("missing_provider")
                .into());
            }
        };
        let resolved = gateway.resolve(&provider_name, &node.path)?;
        if let Some(vk) = &virtual_key {
            check_virtual_key_provider(vk, &resolved, leaf, &node.path)?;
        }
        let request = if settings.override_params.is_empty() {
            Arc::clone(&route.request)
        } else {
            Arc::new(overrides::apply(&route.request, &settings.override_params)?)
        };
        let timeout = route.request_timeout.or(settings.request_timeout);
        match resolved {
            Resolved::Local => self.local(node, request, timeout).await,
            Resolved::Remote {
                provider,
                base_url,
                api_key,
                azure,
                concurrency,
            } => {
                let model = alias_model.or_else(|| request.model.clone());
                let rules = match (&model, provider.streams()) {
                    (Some(m), _) => ModelRules::for_model(m),
                    (None, true) => ModelRules::for_request(&request),
                    (None, false) => ModelRules::Passthrough,
                };
                let edit = rules.validate(&request)?;
                let caller_key = if self.named {
                    route.caller_key.clone()
                } else {
                    None
                };
                let forward_names = route
                    .forward_headers
                    .as_ref()
                    .or(settings.forward_headers.as_ref());
                let forward_headers = forward_names.map_or_else(Vec::new, |names| {
                    route
                        .client_headers
                        .iter()
                        .filter(|(name, _)| {
                            names.iter().any(|n| n.eq_ignore_ascii_case(name.as_str()))
                        })
                        .cloned()
                        .collect()
                });
                let target = ProviderTarget {
                    base_url: settings.custom_host.clone().or(base_url),
                    // DESIGN.md "Credentials": the config's key, a virtual key, the caller's
                    // own key, the server's.
                    api_key: leaf
                        .api_key
                        .clone()
                        .or(virtual_key.map(|vk| vk.api_key))
                        .or(caller_key)
                        .or(api_key),
                    azure: azure_settings(leaf).or(azure),
                    forward_headers,
                    override_params: settings.override_params.clone(),
                    model: model.clone().filter(|m| Some(m) != request.model.as_ref()),
                    timeout: timeout
                        .map_or(ProviderTarget::default().timeout, |t| t + ADAPTER_GRACE),
                    concurrency,
                };
                let policy = settings.retry.clone().unwrap_or(RetryPolicy {
                    attempts: 0,
                    on_status_codes: Vec::new(),
                    use_retry_after_header: false,
                });
                let report = |retry_count: i64, upstream_request_id: Option<String>| RouteReport {
                    provider: provider.kind(),
                    option_index: node.path.clone(),
                    retry_count,
                    model: model.clone().unwrap_or_else(|| edit.model.clone()),
                    upstream_request_id,
                };
                let client = gateway.client().ok_or_else(|| {
                    ApiError::internal("the upstream HTTP client could not be built at start-up")
                })?;
                let mut retry = 0u32;
                loop {
                    let attempt = provider.edit(&request, &edit, &target, client);
                    let result = tokio::select! {
                        result = with_timeout(timeout, attempt) => result,
                        () = route.cancel.cancelled() => Err(ApiError::internal("the client went away")),
                    };
                    match result {
                        Ok(output) => {
                            let upstream_id = match &output {
                                ProviderOutput::Images(images) => {
                                    images.upstream_request_id.clone()
                                }
                                ProviderOutput::Stream(stream) => {
                                    stream.upstream_request_id.clone()
                                }
                            };
                            return Ok(Routed {
                                output: RoutedOutput::Remote(output),
                                report: report(i64::from(retry), upstream_id),
                                request,
                                edit,
                            });
                        }
                        Err(error) => {
                            let retryable = policy.retries(&error);
                            if retryable && retry < policy.attempts {
                                let wait = policy.delay(retry, &error);
                                tracing::debug!(
                                    provider = provider.slug(),
                                    retry,
                                    ?wait,
                                    status = error.status,
                                    "retrying"
                                );
                                tokio::time::sleep(wait).await;
                                retry += 1;
                                continue;
                            }
                            let count = if retryable && policy.attempts > 0 {
                                -1
                            } else {
                                i64::from(retry)
                            };
                            return Err(RouteFailure {
                                error,
                                report: Some(report(count, None)),
                                terminal: false,
                            });
                        }
                    }
                }
            }
        }
    }

    /// Looks a target's virtual key up; an unknown id is the caller's 400.
    async fn virtual_key(
        &self,
        id: &str,
        path: &str,
    ) -> Result<crate::config::VirtualCredential, RouteFailure> {
        let Some(resolver) = &self.route.virtual_keys else {
            return Err(crate::config::virtual_keys::unknown(id, path).into());
        };
        match resolver.resolve(id).await {
            Ok(Some(credential)) => Ok(credential),
            Ok(None) => Err(crate::config::virtual_keys::unknown(id, path).into()),
            Err(error) => Err(error.into()),
        }
    }

    async fn local(
        &self,
        node: &Node,
        request: Arc<EditRequest>,
        timeout: Option<Duration>,
    ) -> Result<Routed, RouteFailure> {
        let gateway = self.gateway;
        let rules = ModelRules::local(gateway.local().config().max_pixels);
        let edit = rules.validate(&request)?;
        let report = RouteReport {
            provider: ProviderKind::Local,
            option_index: node.path.clone(),
            retry_count: 0,
            model: LOCAL_MODEL.to_owned(),
            upstream_request_id: None,
        };
        let call = EditCall {
            request: Arc::clone(&request),
            edit: edit.clone(),
            model: LOCAL_MODEL.to_owned(),
            cancel: self.route.cancel.child_token(),
        };
        if edit.stream {
            let events = gateway
                .edit_streaming(call)
                .map_err(|error| RouteFailure::terminal(error, Some(report.clone())))?;
            return Ok(Routed {
                output: RoutedOutput::LocalStream(events),
                report,
                request,
                edit,
            });
        }
        match with_timeout(timeout, gateway.edit(call)).await {
            Ok(output) => Ok(Routed {
                output: RoutedOutput::Local(output),
                report,
                request,
                edit,
            }),
            Err(error) => Err(RouteFailure {
                error,
                report: Some(report),
                terminal: false,
            }),
        }
    }
}

/// Runs one attempt under the caller's deadline; past it, Portkey's 408 in OpenAI's shape.
async fn with_timeout<T>(
    timeout: Option<Duration>,
    attempt: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let Some(limit) = timeout else {
        return attempt.await;
    };
    tokio::time::timeout(limit, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::new(
                408,
                retouch_api::ErrorKind::Timeout,
                format!(
                    "Request exceeded the timeout sent in the request: {}ms",
                    limit.as_millis()
                ),
            )
            .with_code("request_timeout"))
        })
}

/// A virtual key is for one provider: refuse a target that would send it elsewhere (a request
/// naming another provider, or the local engine).
fn check_virtual_key_provider(
    vk: &crate::config::VirtualCredential,
    resolved: &Resolved,
    leaf: &Leaf,
    path: &str,
) -> Result<(), ApiError> {
    let target = match resolved {
        Resolved::Local => "local",
        Resolved::Remote { provider, .. } => provider.slug(),
    };
    if target == vk.provider {
        return Ok(());
    }
    let named = leaf.provider.as_deref().unwrap_or(target);
    Err(ApiError::invalid_request(
        format!(
            "{path}: the virtual key is for provider '{}', but the target's provider is '{named}'. \
             Drop the provider (the virtual key names it) or use a virtual key for '{named}'.",
            vk.provider
        ),
        Some("x-portkey-virtual-key"),
    )
    .with_code("virtual_key_provider_mismatch"))
}

/// Azure settings written on the target itself (config fields or `x-portkey-azure-*`).
fn azure_settings(leaf: &Leaf) -> Option<AzureSettings> {
    if leaf.resource_name.is_none() && leaf.deployment_id.is_none() && leaf.api_version.is_none() {
        return None;
    }
    let api = match (&leaf.deployment_id, leaf.api_version.as_deref()) {
        (_, Some("v1")) | (None, _) => AzureApi::V1 {
            api_version: leaf
                .api_version
                .clone()
                .filter(|v| v != "v1")
                .unwrap_or_else(|| "preview".to_owned()),
        },
        (Some(deployment), version) => AzureApi::Deployment {
            deployment: deployment.clone(),
            api_version: version.unwrap_or(AZURE_DEFAULT_API_VERSION).to_owned(),
        },
    };
    Some(AzureSettings {
        resource: leaf.resource_name.clone(),
        api,
        entra_token: false,
    })
}
