//! Where images live: [`StoreLocation`] and how each one becomes an `object_store` backend.
//!
//! One code path serves every location; only construction differs. Local disk is the default
//! (`{data_dir}/images`), any S3-compatible service scales out, and memory is for tests.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;

use crate::StoreError;

/// Where the image store keeps its objects.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A directory on local disk (created if missing).
    Local(PathBuf),
    /// A bucket on S3 or any S3-compatible service (MinIO, R2, moto, …).
    ///
    /// Credentials always come from the environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, or the instance/container credential
    /// chain); `AWS_ENDPOINT`, `AWS_REGION` and `AWS_ALLOW_HTTP` are read too, and the fields
    /// below override them when set.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
        prefix: String,
        /// Endpoint URL for non-AWS services, e.g. `http://127.0.0.1:9000`.
        endpoint: Option<String>,
        /// Region; S3-compatible services usually accept any.
        region: Option<String>,
        /// Allow plain `http://` endpoints (loopback test servers, in-cluster MinIO).
        allow_http: bool,
    },
    /// Process memory; lost on exit. For tests.
    Memory,
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for StoreLocation {
    /// The location as a user would write it; holds no credentials (they live in the env).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::S3 {
                bucket,
                prefix,
                endpoint,
                ..
            } => {
                write!(f, "s3://{bucket}/{prefix}")?;
                if let Some(endpoint) = endpoint {
                    write!(f, " (endpoint {endpoint})")?;
                }
                Ok(())
            }
            Self::Memory => f.write_str("memory:"),
        }
    }
}

impl FromStr for StoreLocation {
    type Err = StoreError;

    /// Accepts `memory:`, `s3://bucket[/prefix]`, `file:///abs/dir` and plain paths
    /// (`./dir`, `/abs/dir`, `dir`). Any other `scheme://` is refused rather than taken as a
    /// directory name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| StoreError::InvalidLocation(format!("{s:?}: {why}"));
        if s.is_empty() {
            return Err(invalid("empty"));
        }
        if s == "memory:" || s == "memory://" {
            return Ok(Self::Memory);
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !bucket_ok {
                return Err(invalid("bucket must be 3-63 of a-z, 0-9, '-' and '.'"));
            }
            let prefix = prefix.trim_matches('/');
            // Validate the prefix with object_store's own rules (no `..`, no empty segments).
            ObjectPath::parse(prefix).map_err(|e| invalid(&e.to_string()))?;
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                endpoint: None,
                region: None,
                allow_http: false,
            });
        }
        if let Some(path) = s.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(invalid("file:// URLs need an absolute path (file:///dir)"));
            }
            return Ok(Self::Local(PathBuf::from(path)));
        }
        if s.contains("://") {
            return Err(invalid(
                "expected a directory, file:///dir, s3://bucket/prefix or memory:",
            ));
        }
        Ok(Self::Local(PathBuf::from(s)))
    }
}

/// An opened backend plus the prefix every key is placed under.
pub(crate) struct Backend {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) prefix: ObjectPath,
    /// Whether the backend stores object attributes (content type). Local disk refuses them,
    /// which is fine: the content type always follows from the key's extension anyway.
    pub(crate) attributes: bool,
}

impl StoreLocation {
    pub(crate) fn open_backend(&self) -> Result<Backend, StoreError> {
        match self {
            Self::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
                let fs = LocalFileSystem::new_with_prefix(dir)
                    .map_err(StoreError::Backend)?
                    .with_automatic_cleanup(true);
                Ok(Backend {
                    store: Arc::new(fs),
                    prefix: ObjectPath::default(),
                    attributes: false,
                })
            }
            Self::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                allow_http,
            } => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let Some(region) = region {
                    builder = builder.with_region(region);
                }
                if *allow_http {
                    builder = builder.with_allow_http(true);
                }
                let s3 = builder.build().map_err(StoreError::Backend)?;
                let prefix = ObjectPath::parse(prefix).map_err(|e| {
                    StoreError::InvalidLocation(format!("s3 prefix {prefix:?}: {e}"))
                })?;
                Ok(Backend {
                    store: Arc::new(s3),
                    prefix,
                    attributes: true,
                })
            }
            Self::Memory => Ok(Backend {
                store: Arc::new(InMemory::new()),
                prefix: ObjectPath::default(),
                attributes: true,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        assert_eq!(
            "memory:".parse::<StoreLocation>().unwrap(),
            StoreLocation::Memory
        );
        assert_eq!(
            "./data/images".parse::<StoreLocation>().unwrap(),
            StoreLocation::Local(PathBuf::from("./data/images"))
        );
        assert_eq!(
            "file:///var/lib/retouch".parse::<StoreLocation>().unwrap(),
            StoreLocation::Local(PathBuf::from("/var/lib/retouch"))
        );
        let StoreLocation::S3 { bucket, prefix, .. } = "s3://my-bucket/results/images/"
            .parse::<StoreLocation>()
            .unwrap()
        else {
            panic!("not s3");
        };
        assert_eq!(
            (bucket.as_str(), prefix.as_str()),
            ("my-bucket", "results/images")
        );
        let StoreLocation::S3 { prefix, .. } = "s3://bucket".parse::<StoreLocation>().unwrap()
        else {
            panic!("not s3");
        };
        assert_eq!(prefix, "");
    }

    #[test]
    fn refuses_what_it_cannot_mean() {
        for bad in [
            "",
            "gs://bucket/x",
            "http://example.com/x",
            "file://relative/dir",
            "s3://",
            "s3://UPPER/x",
            "s3://ab/x",
            "s3://bucket/a/../b",
            "s3://bucket/a//b",
        ] {
            assert!(bad.parse::<StoreLocation>().is_err(), "{bad:?}");
        }
    }
}
