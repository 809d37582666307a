//! Virtual keys in routing: a target's `virtual_key` is resolved through the request's
//! [`VirtualKeys`] resolver, supplies the provider when the target names none, takes its place
//! in the credential order (config `api_key` > virtual key > caller's key > server entry), is
//! refused for another provider, and is looked up only for targets actually tried.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail loudly on broken fixtures"
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use retouch_api::{ApiError, EditForm, EditRequest, FormPart};
use retouch_gateway::config::{ProviderEntry, VirtualCredential, VirtualKeys};
use retouch_gateway::{
    Gateway, GatewaySettings, LocalEngine, LocalEngineConfig, Provider, RouteConfig, RouteRequest,
    Secret, UpstreamClient, UpstreamConfig,
};
use retouch_test_support::fixtures::photo_png;
use retouch_test_support::{MockKind, MockUpstream};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Virtual keys in memory, recording every lookup.
#[derive(Debug, Default)]
struct Keys {
    keys: HashMap<String, (String, String)>,
    lookups: Mutex<Vec<String>>,
}

impl Keys {
    fn with(mut self, id: &str, provider: &str, secret: &str) -> Self {
        self.keys
            .insert(id.to_owned(), (provider.to_owned(), secret.to_owned()));
        self
    }

    fn lookups(&self) -> Vec<String> {
        self.lookups.lock().unwrap().clone()
    }
}

impl VirtualKeys for Keys {
    fn resolve<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<VirtualCredential>, ApiError>> {
        Box::pin(async move {
            self.lookups.lock().unwrap().push(id.to_owned());
            if id == "broken" {
                return Err(ApiError::internal("cannot decrypt virtual key 'broken'"));
            }
            Ok(self
                .keys
                .get(id)
                .map(|(provider, secret)| VirtualCredential {
                    provider: provider.clone(),
                    api_key: Secret::new(secret.clone()),
                }))
        })
    }
}

fn request() -> Arc<EditRequest> {
    let form = EditForm::new()
        .with(FormPart::file(
            "image",
            "photo.png",
            Some("image/png"),
            photo_png(16, 16),
        ))
        .with(FormPart::text("prompt", "remove it"))
        .with(FormPart::text("model", "gpt-image-1"));
    Arc::new(EditRequest::from_form(form).unwrap())
}

/// A gateway whose `[providers.up]` entry points at `mock` with a wrong key of its own.
fn gateway(mock: &MockUpstream) -> Gateway {
    let mut settings = GatewaySettings::default();
    settings.providers.insert(
        "up".to_owned(),
        ProviderEntry {
            provider: Provider::OpenAi,
            base_url: Some(url::Url::parse(&mock.base_url()).unwrap()),
            api_key: Some(Secret::new("sk-server-entry")),
            azure: None,
            max_concurrency: None,
        },
    );
    let engine = LocalEngine::new(LocalEngineConfig::default()).unwrap();
    let client = UpstreamClient::new(UpstreamConfig::default()).unwrap();
    Gateway::with_settings(engine, client, settings)
}

/// Routes `config` with `keys` and the caller's own key; returns the authorization header the
/// mock saw last (or the error).
async fn route(
    gateway: &Gateway,
    mock: &MockUpstream,
    keys: &Arc<Keys>,
    config: serde_json::Value,
    caller_key: Option<&str>,
) -> Result<String, ApiError> {
    let mut route = RouteRequest::new(request(), CancellationToken::new());
    route.config = Some(RouteConfig::from_value(config).unwrap());
    route.caller_key = caller_key.map(Secret::new);
    route.virtual_keys = Some(Arc::clone(keys) as Arc<dyn VirtualKeys>);
    gateway.route(route).await.map_err(|f| f.error)?;
    Ok(mock
        .requests()
        .last()
        .and_then(|r| r.header("authorization").map(str::to_owned))
        .unwrap_or_default())
}

#[tokio::test]
async fn a_virtual_key_supplies_provider_and_credential_in_the_documented_order() {
    let mock = MockUpstream::start(MockKind::OpenAi).await;
    let good = mock.api_key().unwrap().to_owned();
    let gateway = gateway(&mock);
    let keys = Arc::new(
        Keys::default()
            .with("vk-good", "openai", &good)
            .with("vk-stale", "openai", "sk-stale"),
    );
    let host = mock.base_url();
    let bearer = format!("Bearer {good}");

    // The key names its provider.
    let seen = route(
        &gateway,
        &mock,
        &keys,
        json!({"virtual_key": "vk-good", "custom_host": host}),
        None,
    )
    .await;
    assert_eq!(seen.unwrap(), bearer);
    // It beats the caller's key and the server entry's key.
    let seen = route(
        &gateway,
        &mock,
        &keys,
        json!({"provider": "up", "virtual_key": "vk-good"}),
        Some("sk-caller"),
    )
    .await;
    assert_eq!(seen.unwrap(), bearer);
    // The config's own api_key beats it.
    let seen = route(
        &gateway,
        &mock,
        &keys,
        json!({"provider": "up", "virtual_key": "vk-stale", "api_key": good}),
        None,
    )
    .await;
    assert_eq!(seen.unwrap(), bearer);
    // Without the config key, the stale virtual key is what is sent (and refused upstream).
    let error = route(
        &gateway,
        &mock,
        &keys,
        json!({"provider": "up", "virtual_key": "vk-stale"}),
        Some(&good),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status, 401);
    assert_eq!(
        mock.requests().last().unwrap().header("authorization"),
        Some("Bearer sk-stale")
    );
}

#[tokio::test]
async fn unknown_mismatched_and_broken_virtual_keys_never_reach_the_upstream() {
    let mock = MockUpstream::start(MockKind::OpenAi).await;
    let gateway = gateway(&mock);
    let keys = Arc::new(Keys::default().with("vk-stab", "stability-ai", "sk-stab-secret"));
    let host = mock.base_url();

    let error = route(
        &gateway,
        &mock,
        &keys,
        json!({"virtual_key": "nope", "custom_host": host}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        (error.status, error.code.as_deref()),
        (400, Some("invalid_virtual_key"))
    );
    assert_eq!(error.param.as_deref(), Some("x-portkey-virtual-key"));

    let error = route(
        &gateway,
        &mock,
        &keys,
        json!({"provider": "up", "virtual_key": "vk-stab"}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(error.code.as_deref(), Some("virtual_key_provider_mismatch"));
    assert!(error.message.contains("stability-ai"), "{}", error.message);
    assert!(!error.message.contains("sk-stab-secret"));

    let error = route(
        &gateway,
        &mock,
        &keys,
        json!({"provider": "local", "virtual_key": "vk-stab"}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(error.code.as_deref(), Some("virtual_key_provider_mismatch"));

    let error = route(
        &gateway,
        &mock,
        &keys,
        json!({"virtual_key": "broken", "custom_host": host}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(error.status, 500);

    // No resolver at all: the same 400 as an unknown id.
    let mut bare = RouteRequest::new(request(), CancellationToken::new());
    bare.config = Some(RouteConfig::from_value(json!({"virtual_key": "vk-stab"})).unwrap());
    let error = gateway.route(bare).await.unwrap_err().error;
    assert_eq!(error.code.as_deref(), Some("invalid_virtual_key"));
    assert_eq!(mock.edit_calls(), 0);
}

#[tokio::test]
async fn only_the_targets_tried_are_looked_up() {
    let mock = MockUpstream::start(MockKind::OpenAi).await;
    let gateway = gateway(&mock);
    let keys = Arc::new(Keys::default().with("vk-good", "openai", mock.api_key().unwrap()));
    let config = json!({
        "strategy": {"mode": "fallback"},
        "targets": [
            {"virtual_key": "vk-good", "custom_host": mock.base_url()},
            {"virtual_key": "vk-never"}
        ]
    });
    route(&gateway, &mock, &keys, config, None).await.unwrap();
    assert_eq!(keys.lookups(), vec!["vk-good".to_owned()]);
}
