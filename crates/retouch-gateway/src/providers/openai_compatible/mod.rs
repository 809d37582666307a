//! `openai-compatible`: OpenAI's edits API at any base URL (LocalAI, vLLM, resellers).
//!
//! Same wire as [`super::openai`]; the base URL is required (there is no default) and the key is
//! optional (sent as Bearer when given).

use retouch_api::ApiError;

use super::openai::{Auth, send};
use super::{Call, ProviderOutput};

pub(crate) async fn edit(call: &Call<'_>) -> Result<ProviderOutput, ApiError> {
    let url = call.endpoint("images/edits")?;
    send(call, url, Auth::Bearer, call.model()).await
}
