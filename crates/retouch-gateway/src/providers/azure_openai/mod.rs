//! `azure-openai`: the OpenAI wire at Azure's URLs with the `api-key` header (or an Entra ID
//! Bearer token).
//!
//! Deployment style: `{endpoint}/openai/deployments/{deployment}/images/edits?api-version=…`,
//! where the deployment picks the model (the `model` field is still sent when known). v1 style:
//! `{endpoint}/openai/v1/images/edits?api-version=preview`, where `model` names the deployment.

mod wire;

use retouch_api::ApiError;

use super::openai::{Auth, send};
use super::{Call, ProviderOutput};

pub(crate) async fn edit(call: &Call<'_>) -> Result<ProviderOutput, ApiError> {
    let settings = call.target.azure.as_ref().ok_or_else(|| {
        ApiError::invalid_request(
            "Azure OpenAI needs its settings: a resource (or base URL) and a deployment or the v1 API.",
            None,
        )
    })?;
    let url = wire::edits_url(call.target.base_url.as_ref(), settings)?;
    let auth = if settings.entra_token {
        Auth::Bearer
    } else {
        Auth::ApiKey
    };
    send(call, url, auth, call.model()).await
}
