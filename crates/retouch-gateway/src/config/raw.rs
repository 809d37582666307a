//! Phase one of config parsing: the Portkey config object exactly as JSON spells it, with
//! `deny_unknown_fields` so a typo is an error naming the key. Nothing here is checked beyond
//! types; [`super::validate`] turns it into [`super::RouteConfig`].

use serde::Deserialize;

/// One level of a Portkey config (the top-level object, or one entry of `targets`).
///
/// `targets` stays raw JSON so that each nested level is parsed on its own and an error can
/// name its exact path (`config.targets[1].targets[0]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) strategy: Option<RawStrategy>,
    pub(crate) targets: Option<Vec<serde_json::Value>>,
    pub(crate) provider: Option<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) virtual_key: Option<String>,
    pub(crate) custom_host: Option<String>,
    pub(crate) override_params: Option<serde_json::Map<String, serde_json::Value>>,
    pub(crate) weight: Option<f64>,
    pub(crate) retry: Option<RawRetry>,
    pub(crate) request_timeout: Option<i64>,
    pub(crate) forward_headers: Option<Vec<String>>,
    pub(crate) name: Option<String>,
    pub(crate) resource_name: Option<String>,
    pub(crate) deployment_id: Option<String>,
    pub(crate) api_version: Option<String>,
    #[expect(
        dead_code,
        reason = "accepted so Portkey configs parse; edits are never cached"
    )]
    /// Accepted for compatibility; image edits are never cached (as in Portkey), so the
    /// response always says `x-portkey-cache-status: DISABLED`.
    pub(crate) cache: Option<serde_json::Value>,
    #[expect(
        dead_code,
        reason = "accepted so Portkey configs parse; answers are always OpenAI-shaped"
    )]
    /// Accepted for compatibility; our responses are always OpenAI-shaped.
    pub(crate) strict_open_ai_compliance: Option<bool>,
}

/// `strategy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStrategy {
    pub(crate) mode: String,
    pub(crate) on_status_codes: Option<Vec<i64>>,
    pub(crate) conditions: Option<Vec<RawCondition>>,
    pub(crate) default: Option<String>,
}

/// One entry of `strategy.conditions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    pub(crate) query: serde_json::Value,
    pub(crate) then: String,
}

/// `retry`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub(crate) attempts: i64,
    pub(crate) on_status_codes: Option<Vec<i64>>,
    pub(crate) use_retry_after_header: Option<bool>,
}
