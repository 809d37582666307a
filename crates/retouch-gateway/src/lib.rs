//! Routing of validated image edits to the providers that run them.
//!
//! The server hands this crate an already-parsed, already-validated edit ([`EditCall`]) and gets
//! back either the finished images ([`EditOutput`]) or a stream of [`EditEvent`]s. Nothing here
//! knows about HTTP on the client side: errors are [`retouch_api::ApiError`]s, which the server
//! renders in OpenAI's shape.
//!
//! Providers are a closed set (see [`ProviderKind`]); the embedded default is the local
//! content-aware fill engine ([`local::LocalEngine`]), which runs on its own bounded pool of
//! threads so that CPU work never blocks the async runtime.

pub mod config;
mod http;
pub mod limits;
pub mod local;
pub mod mask;
mod output;
pub mod providers;
pub mod routing;
pub mod ssrf;

pub use config::{ConfigError, GatewaySettings, RouteConfig};
pub use http::{ClientBuildError, UpstreamClient, UpstreamConfig};
pub use local::{LocalEngine, LocalEngineConfig};
pub use output::{EditCall, EditEvent, EditOutput, EncodedImage, ProviderKind};
pub use providers::{
    AzureApi, AzureSettings, Provider, ProviderImage, ProviderImages, ProviderOutput,
    ProviderStream, ProviderTarget, Secret,
};
pub use routing::{RouteFailure, RouteReport, RouteRequest, Routed, RoutedOutput};
pub use ssrf::{SsrfError, SsrfPolicy};

use std::sync::Arc;

use retouch_api::ApiError;
use tokio::sync::mpsc;

/// The gateway: the set of configured providers and the rules that pick one for a request.
#[derive(Debug, Clone)]
pub struct Gateway {
    local: LocalEngine,
    /// `None` only if the TLS backend failed at start-up; remote targets then answer 500.
    client: Option<UpstreamClient>,
    settings: Arc<GatewaySettings>,
}

impl Gateway {
    /// A gateway whose default route is the local engine, with no server-configured providers;
    /// requests may still name providers through Portkey headers and configs.
    pub fn new(local: LocalEngine) -> Self {
        let client = match UpstreamClient::new(UpstreamConfig::default()) {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::error!(%error, "cannot build the upstream HTTP client; remote providers are unavailable");
                None
            }
        };
        Self {
            local,
            client,
            settings: Arc::new(GatewaySettings::default()),
        }
    }

    /// A gateway with server-side settings (providers, aliases, named configs, default route)
    /// and an upstream client built by the caller.
    pub fn with_settings(
        local: LocalEngine,
        client: UpstreamClient,
        settings: GatewaySettings,
    ) -> Self {
        Self {
            local,
            client: Some(client),
            settings: Arc::new(settings),
        }
    }

    /// The server-side routing settings.
    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// The shared upstream client (result downloads go through it too).
    pub fn client(&self) -> Option<&UpstreamClient> {
        self.client.as_ref()
    }

    /// The local engine, for callers that need its limits (e.g. validation rules).
    pub fn local(&self) -> &LocalEngine {
        &self.local
    }

    /// Runs an edit to completion and returns every image.
    pub async fn edit(&self, call: EditCall) -> Result<EditOutput, ApiError> {
        let model = call.model.clone();
        let mut events = self.edit_streaming(call)?;
        let mut images = Vec::new();
        while let Some(event) = events.recv().await {
            match event? {
                EditEvent::Partial { .. } => {}
                EditEvent::Completed { index, image } => images.push((index, image)),
            }
        }
        images.sort_by_key(|(index, _)| *index);
        Ok(EditOutput {
            images: images.into_iter().map(|(_, image)| image).collect(),
            provider: ProviderKind::Local,
            model,
            attempts: 1,
        })
    }

    /// Starts an edit and returns its events as they happen: partial images (when asked for),
    /// then one `Completed` per image. The channel closes after the last image or the first
    /// error. Dropping the receiver cancels the work.
    pub fn edit_streaming(
        &self,
        call: EditCall,
    ) -> Result<mpsc::Receiver<Result<EditEvent, ApiError>>, ApiError> {
        self.local.submit(call)
    }
}
