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

mod http;
pub mod local;
pub mod mask;
mod output;
pub mod providers;
pub mod ssrf;

pub use http::{ClientBuildError, UpstreamClient, UpstreamConfig};
pub use local::{LocalEngine, LocalEngineConfig};
pub use output::{EditCall, EditEvent, EditOutput, EncodedImage, ProviderKind};
pub use providers::{
    AzureApi, AzureSettings, Provider, ProviderImage, ProviderImages, ProviderOutput,
    ProviderStream, ProviderTarget, Secret,
};
pub use ssrf::{SsrfError, SsrfPolicy};

use retouch_api::ApiError;
use tokio::sync::mpsc;

/// The gateway: the set of configured providers and the rules that pick one for a request.
#[derive(Debug, Clone)]
pub struct Gateway {
    local: LocalEngine,
}

impl Gateway {
    /// A gateway whose only route is the local engine.
    pub fn new(local: LocalEngine) -> Self {
        Self { local }
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
