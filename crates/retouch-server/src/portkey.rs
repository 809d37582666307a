//! Portkey's request headers → a [`RouteRequest`], and its response headers back.
//!
//! Request: `x-portkey-provider`, `-api-key`, `-config` (JSON, or the id of a config saved on
//! the server), `-custom-host`, `-trace-id`, `-metadata`, `-request-timeout`,
//! `-forward-headers`, `-virtual-key`, `-azure-{resource-name,deployment-id,api-version}`, and
//! `Authorization: Bearer` (else `x-portkey-api-key`) as the provider key — unless it is a
//! gateway key (`rtk_…`), which authenticates the caller to us and is never sent upstream.
//! A config id is looked up in the server TOML's `[configs]` first, then in the state store.
//! Response: `x-portkey-provider`, `-last-used-option-index`, `-retry-attempt-count`,
//! `-trace-id` (echoed, or generated), `-cache-status: DISABLED` (edits are never cached), and
//! the upstream's request id as `x-upstream-request-id` (our own `x-request-id` stays ours).

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, header};
use retouch_api::{ApiError, EditRequest};
use retouch_gateway::{Provider, RouteConfig, RouteReport, RouteRequest, Secret};
use tokio_util::sync::CancellationToken;

use crate::auth;
use crate::state::AppState;

/// Target fields a request may give as headers instead of in a config:
/// `(header, config field)`.
const TARGET_HEADERS: [(&str, &str); 6] = [
    ("x-portkey-provider", "provider"),
    ("x-portkey-virtual-key", "virtual_key"),
    ("x-portkey-custom-host", "custom_host"),
    ("x-portkey-azure-resource-name", "resource_name"),
    ("x-portkey-azure-deployment-id", "deployment_id"),
    ("x-portkey-azure-api-version", "api_version"),
];

/// Longest trace id echoed back; a longer or non-printable one is replaced by a fresh id.
const MAX_TRACE_ID: usize = 128;

/// The routing half of a request's headers.
#[derive(Debug)]
pub(crate) struct Routing {
    pub(crate) route: RouteRequest,
    pub(crate) trace_id: HeaderValue,
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|s| Some(s.trim()).filter(|s| !s.is_empty()))
            .map_err(|_| {
                ApiError::invalid_request(
                    format!("The {name} header is not valid text."),
                    Some(name),
                )
            }),
    }
}

/// The caller's `x-portkey-trace-id` when it is a sane token, else a fresh UUID.
pub(crate) fn trace_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get("x-portkey-trace-id")
        .filter(|v| {
            v.len() <= MAX_TRACE_ID
                && !v.is_empty()
                && v.as_bytes().iter().all(u8::is_ascii_graphic)
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("trace"))
        })
}

/// Reads every Portkey header of a request.
pub(crate) async fn routing(
    state: &AppState,
    headers: &HeaderMap,
    request: Arc<EditRequest>,
    cancel: CancellationToken,
) -> Result<Routing, ApiError> {
    let trace_id = trace_id(headers);
    // Both headers must be text even when only one is used.
    text(headers, header::AUTHORIZATION.as_str())?;
    text(headers, "x-portkey-api-key")?;
    let mut route = RouteRequest::new(request, cancel);
    route.config = config(state, headers).await?;
    route.virtual_keys = state
        .accounts()
        .map(crate::accounts::Accounts::virtual_keys);
    // The Portkey SDK sends its own gateway key in x-portkey-api-key and the provider key in
    // Authorization; the docs' curl sends only x-portkey-api-key. Authorization wins when both.
    // A gateway key in either is ours alone (the auth layer checked it): never a provider key.
    let provider_key = |key: &str| !auth::is_gateway_key(key);
    route.caller_key = auth::bearer(headers)
        .filter(|k| provider_key(k))
        .or_else(|| auth::portkey_api_key(headers).filter(|k| provider_key(k)))
        .map(Secret::new);
    if let Some(metadata) = text(headers, "x-portkey-metadata")? {
        route.metadata = serde_json::from_str(metadata).map_err(|_| {
            ApiError::invalid_request(
                "The x-portkey-metadata header must be a JSON object.",
                Some("x-portkey-metadata"),
            )
        })?;
    }
    if let Some(ms) = text(headers, "x-portkey-request-timeout")? {
        let ms: u64 = ms.parse().ok().filter(|ms| *ms > 0).ok_or_else(|| {
            ApiError::invalid_request(
                "The x-portkey-request-timeout header must be a positive number of milliseconds.",
                Some("x-portkey-request-timeout"),
            )
        })?;
        route.request_timeout = Some(Duration::from_millis(ms));
    }
    if let Some(list) = text(headers, "x-portkey-forward-headers")? {
        route.forward_headers = Some(
            list.split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        );
    }
    route.client_headers = headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            !name.starts_with("x-portkey-") && name != header::AUTHORIZATION.as_str()
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect::<Vec<(HeaderName, HeaderValue)>>();
    Ok(Routing { route, trace_id })
}

/// The config a request names: `x-portkey-config` (JSON or a saved id), completed by the
/// target headers when it is a single target without a provider; or one built from the target
/// headers alone; or none (the default route).
async fn config(state: &AppState, headers: &HeaderMap) -> Result<Option<RouteConfig>, ApiError> {
    let gateway = state.gateway();
    let mut fields = serde_json::Map::new();
    for (name, field) in TARGET_HEADERS {
        if let Some(value) = text(headers, name)? {
            fields.insert(field.to_owned(), serde_json::Value::from(value));
        }
    }
    if let Some(provider) = fields.get("provider").and_then(|p| p.as_str()) {
        let known = provider == "local"
            || Provider::from_slug(provider).is_some()
            || gateway.settings().providers.contains_key(provider);
        if !known {
            return Err(ApiError::invalid_request(
                format!(
                    "Invalid provider passed: '{provider}' is not a provider this server knows."
                ),
                Some("x-portkey-provider"),
            )
            .with_code("invalid_provider"));
        }
    }
    let Some(spec) = text(headers, "x-portkey-config")? else {
        // A virtual key alone names its provider.
        if !fields.contains_key("provider") && !fields.contains_key("virtual_key") {
            return Ok(None);
        }
        return RouteConfig::from_value(serde_json::Value::Object(fields))
            .map(Some)
            .map_err(|e| {
                let param = TARGET_HEADERS
                    .iter()
                    .find(|(_, field)| e.path.ends_with(field))
                    .map_or("x-portkey-provider", |(header, _)| header);
                ApiError::invalid_request(
                    format!("Invalid {param} header: {}", e.message),
                    Some(param),
                )
            });
    };
    if !spec.starts_with('{') {
        if let Some(config) = gateway.settings().configs.get(spec) {
            return Ok(Some(config.clone()));
        }
        let saved = match state.accounts() {
            Some(accounts) => accounts.saved_config(spec).await?,
            None => None,
        };
        return saved.map(Some).ok_or_else(|| {
            ApiError::invalid_request(
                format!("Invalid config: no config with id '{spec}' is saved on this server; send the config as JSON or use a saved id."),
                Some("x-portkey-config"),
            )
            .with_code("invalid_config")
        });
    }
    let mut value: serde_json::Value = serde_json::from_str(spec).map_err(|e| {
        ApiError::invalid_request(
            format!("Invalid config: config: not valid JSON: {e}"),
            Some("x-portkey-config"),
        )
        .with_code("invalid_config")
    })?;
    if let Some(object) = value.as_object_mut() {
        let is_single = !object.contains_key("strategy") && !object.contains_key("targets");
        let has_provider = object.contains_key("provider");
        if is_single {
            for (field, v) in fields {
                // A single target with its own provider still takes the virtual key header
                // (its credential); the other target headers only fill in a missing provider.
                if !has_provider || field == "virtual_key" {
                    object.entry(field).or_insert(v);
                }
            }
        }
    }
    Ok(Some(RouteConfig::from_value(value)?))
}

/// Adds Portkey's response headers (and the upstream's request id).
pub(crate) fn response_headers(
    headers: &mut HeaderMap,
    report: Option<&RouteReport>,
    trace_id: &HeaderValue,
) {
    headers.insert("x-portkey-trace-id", trace_id.clone());
    headers.insert(
        "x-portkey-cache-status",
        HeaderValue::from_static("DISABLED"),
    );
    let Some(report) = report else {
        return;
    };
    headers.insert(
        "x-portkey-provider",
        HeaderValue::from_static(report.provider.as_str()),
    );
    if let Ok(index) = HeaderValue::from_str(&report.option_index) {
        headers.insert("x-portkey-last-used-option-index", index);
    }
    headers.insert(
        "x-portkey-retry-attempt-count",
        HeaderValue::from(report.retry_count),
    );
    if let Ok(model) = HeaderValue::from_str(&report.model) {
        headers.insert("x-retouch-model", model);
    }
    if let Some(id) = report
        .upstream_request_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        headers.insert("x-upstream-request-id", id);
    }
}
