//! Azure OpenAI URLs: the deployment style and the v1 style.

use retouch_api::ApiError;
use url::Url;

use crate::providers::join;
use crate::providers::target::{AzureApi, AzureSettings};

/// The edits URL for `settings`, on `base` (the target's base URL) or the resource's endpoint.
pub(crate) fn edits_url(base: Option<&Url>, settings: &AzureSettings) -> Result<Url, ApiError> {
    let endpoint = match (base, &settings.resource) {
        (Some(base), _) => base.clone(),
        (None, Some(resource)) => Url::parse(&format!("https://{resource}.openai.azure.com"))
            .map_err(|_| {
                ApiError::invalid_request(
                    format!("Invalid Azure resource name '{resource}'."),
                    None,
                )
            })?,
        (None, None) => {
            return Err(ApiError::invalid_request(
                "Azure OpenAI needs a resource name or a base URL (custom_host).",
                None,
            ));
        }
    };
    let (path, version) = match &settings.api {
        AzureApi::Deployment {
            deployment,
            api_version,
        } => {
            if deployment.is_empty() || deployment.contains('/') {
                return Err(ApiError::invalid_request(
                    format!("Invalid Azure deployment '{deployment}'."),
                    None,
                ));
            }
            (
                format!("openai/deployments/{deployment}/images/edits"),
                api_version.as_str(),
            )
        }
        AzureApi::V1 { api_version } => ("openai/v1/images/edits".to_owned(), api_version.as_str()),
    };
    let mut url = join(&endpoint, &path)?;
    url.query_pairs_mut().append_pair("api-version", version);
    Ok(url)
}
