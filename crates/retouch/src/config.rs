//! The TOML configuration file (`retouch serve --config FILE`).
//!
//! Read in two phases: this raw, `deny_unknown_fields` shape first, so a typo is an error that
//! names the key; values are then merged under the command-line flags in `serve`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    #[serde(default)]
    pub(crate) server: ServerSection,
    #[serde(default)]
    pub(crate) engine: EngineSection,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    pub(crate) host: Option<IpAddr>,
    pub(crate) port: Option<u16>,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) public_url: Option<String>,
    pub(crate) store: Option<String>,
    pub(crate) link_ttl: Option<u64>,
    pub(crate) max_body_bytes: Option<u64>,
    pub(crate) body_timeout: Option<u64>,
    pub(crate) shutdown_timeout: Option<u64>,
    pub(crate) insecure_no_auth: Option<bool>,
}

/// `[engine]`: the local content-aware fill engine.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EngineSection {
    pub(crate) workers: Option<usize>,
    pub(crate) queue: Option<usize>,
    pub(crate) max_pixels: Option<u64>,
}

impl FileConfig {
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in the config file {}", path.display()))
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::FileConfig;

    #[test]
    fn reads_known_keys_and_names_unknown_ones() {
        let config = FileConfig::parse("[server]\nport = 9000\n[engine]\nworkers = 3\n").unwrap();
        assert_eq!(config.server.port, Some(9000));
        assert_eq!(config.engine.workers, Some(3));
        let error = FileConfig::parse("[server]\nprot = 9000\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("prot"), "{error}");
    }
}
