//! Signed expiring links: [`LinkSigner`] (the HMAC secret and where it lives) and
//! [`LinkError`] (why a presented link is refused).
//!
//! A link is `/images/{key}?expires={unix seconds}&signature={hex}` where the signature is
//! HMAC-SHA256 over the canonical string `"v1\n{key}\n{expires}"`. The version tag lets the
//! format change later without old links verifying under new rules. The secret is read from a
//! file in the data directory (created once, mode 0600) so links survive restarts, or given
//! directly (e.g. `RETOUCH_LINK_SECRET`) so that replicas share it.

use std::fmt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::key::{ImageKey, MAX_KEY_LEN};
use crate::StoreError;

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret accepted: 32 bytes, HMAC-SHA256's full strength.
pub const MIN_SECRET_LEN: usize = 32;
/// Hex length of an HMAC-SHA256 tag.
const SIGNATURE_HEX_LEN: usize = 64;
/// `u64::MAX` has 20 decimal digits; a longer `expires` is malformed without parsing.
const MAX_EXPIRES_LEN: usize = 20;

/// Signs and verifies image links. Cheap to clone; never prints its secret.
#[derive(Clone)]
pub struct LinkSigner {
    /// HMAC state keyed with the secret; cloned per signature so the key is hashed once.
    mac: HmacSha256,
}

impl fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkSigner")
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why a link is refused.
///
/// HTTP mapping (see [`LinkError::http_status`]): a link that does not even have the shape of
/// one of ours is a 404 (there is nothing at that address); a well-formed link whose signature
/// does not match, or whose time is up, is a 403 — the way S3 answers tampered and expired
/// presigned URLs. Expired links answer 403 rather than 404 so that a client can tell "this
/// link ran out, ask again" from "this never existed", and the answer does not change when the
/// sweep later deletes the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Key, expiry or signature is not in the exact form we issue.
    #[error("not a valid image link")]
    Malformed,
    /// The signature does not match the key and expiry (tampered or signed with another secret).
    #[error("image link signature does not match")]
    BadSignature,
    /// The link was genuine but its expiry time has passed.
    #[error("image link has expired")]
    Expired,
}

impl LinkError {
    /// The HTTP status this refusal is answered with: 404 for [`Malformed`](Self::Malformed),
    /// 403 for [`BadSignature`](Self::BadSignature) and [`Expired`](Self::Expired).
    #[must_use]
    pub const fn http_status(self) -> u16 {
        match self {
            Self::Malformed => 404,
            Self::BadSignature | Self::Expired => 403,
        }
    }
}

impl LinkSigner {
    /// A signer keyed with `secret` as given (its bytes, not decoded), which must be at least
    /// [`MIN_SECRET_LEN`] bytes. Replicas given the same secret issue links valid on each other.
    ///
    /// # Errors
    /// [`StoreError::Secret`] when the secret is too short.
    pub fn from_secret(secret: impl AsRef<[u8]>) -> Result<Self, StoreError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_LEN {
            return Err(StoreError::Secret(format!(
                "link secret must be at least {MIN_SECRET_LEN} bytes, got {}",
                secret.len()
            )));
        }
        let mac = HmacSha256::new_from_slice(secret)
            .map_err(|_| StoreError::Secret("link secret rejected by HMAC".to_owned()))?;
        Ok(Self { mac })
    }

    /// Reads the secret from `path`, creating it first if it does not exist.
    ///
    /// A new file holds 64 random hex characters and a newline, is created with mode 0600 and
    /// appears atomically with its full contents; if another process creates it first, its
    /// secret wins and is read back, so concurrent starts agree. The file's trimmed
    /// text is the secret, byte for byte, so the same text in `RETOUCH_LINK_SECRET` gives
    /// [`from_secret`](Self::from_secret) the same signer.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the file or its directory cannot be read or written,
    /// [`StoreError::Secret`] when an existing file holds too short a secret.
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        let contents = crate::secret::load_or_create(path, "image link secret")?;
        Self::from_file_contents(path, &contents)
    }

    fn from_file_contents(path: &Path, contents: &[u8]) -> Result<Self, StoreError> {
        Self::from_secret(contents.trim_ascii()).map_err(|_| {
            StoreError::Secret(format!(
                "link secret file {} holds fewer than {MIN_SECRET_LEN} bytes",
                path.display()
            ))
        })
    }

    /// The hex signature of `key` valid until `expires` (unix seconds).
    #[must_use]
    pub fn sign(&self, key: &ImageKey, expires: u64) -> String {
        hex::encode(self.tag(key.as_str(), expires).finalize().into_bytes())
    }

    fn tag(&self, key: &str, expires: u64) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(b"v1\n");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// Checks a presented link. Order matters: shape first (cheap, and nothing unparsed reaches
    /// the store), then the signature in constant time, then expiry — so a link with a tampered
    /// expiry is `BadSignature`, never `Expired`.
    ///
    /// # Errors
    /// See [`LinkError`].
    pub fn verify(
        &self,
        key: &str,
        expires: &str,
        signature: &str,
        now: SystemTime,
    ) -> Result<ImageKey, LinkError> {
        if key.len() > MAX_KEY_LEN || expires.len() > MAX_EXPIRES_LEN {
            return Err(LinkError::Malformed);
        }
        let key: ImageKey = key.parse().map_err(|_| LinkError::Malformed)?;
        let expires_at = parse_canonical_u64(expires).ok_or(LinkError::Malformed)?;
        if signature.len() != SIGNATURE_HEX_LEN
            || !signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(LinkError::Malformed);
        }
        let presented = hex::decode(signature).map_err(|_| LinkError::Malformed)?;
        self.tag(key.as_str(), expires_at)
            .verify_slice(&presented)
            .map_err(|_| LinkError::BadSignature)?;
        if unix_secs(now) >= expires_at {
            return Err(LinkError::Expired);
        }
        Ok(key)
    }
}

/// Seconds since the epoch; times before it count as 0 (a clock that far off fails closed:
/// nothing signed then is valid later).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Parses decimal digits with no sign, no leading zero (except "0") and no whitespace, so each
/// number has exactly one accepted spelling.
fn parse_canonical_u64(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ImageExt;

    fn signer() -> LinkSigner {
        LinkSigner::from_secret([7_u8; 32]).unwrap()
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(LinkSigner::from_secret([1_u8; 31]).is_err());
        assert!(LinkSigner::from_secret("").is_err());
        assert!(LinkSigner::from_secret("x".repeat(32)).is_ok());
    }

    #[test]
    fn a_signature_verifies_until_expiry() {
        let s = signer();
        let key = ImageKey::generate(ImageExt::Png);
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let sig = s.sign(&key, 1_000_060);
        assert_eq!(
            s.verify(key.as_str(), "1000060", &sig, now),
            Ok(key.clone())
        );
        let later = UNIX_EPOCH + Duration::from_secs(1_000_060);
        assert_eq!(
            s.verify(key.as_str(), "1000060", &sig, later),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn tampering_is_detected() {
        let s = signer();
        let key = ImageKey::generate(ImageExt::Png);
        let other = ImageKey::generate(ImageExt::Png);
        let now = UNIX_EPOCH + Duration::from_secs(10);
        let sig = s.sign(&key, 100);
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        let bad = |k: &str, e: &str, g: &str| s.verify(k, e, g, now);
        assert_eq!(
            bad(key.as_str(), "100", &flipped),
            Err(LinkError::BadSignature)
        );
        assert_eq!(
            bad(other.as_str(), "100", &sig),
            Err(LinkError::BadSignature)
        );
        assert_eq!(bad(key.as_str(), "101", &sig), Err(LinkError::BadSignature));
        // An expiry pushed into the past is still a forgery, not an expired link.
        assert_eq!(bad(key.as_str(), "5", &sig), Err(LinkError::BadSignature));
        let png_as_webp = key.as_str().replace(".png", ".webp");
        assert_eq!(bad(&png_as_webp, "100", &sig), Err(LinkError::BadSignature));
        let stranger = LinkSigner::from_secret([8_u8; 32]).unwrap();
        assert_eq!(
            stranger.verify(key.as_str(), "100", &sig, now),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn odd_spellings_are_malformed() {
        let s = signer();
        let key = ImageKey::generate(ImageExt::Png);
        let now = UNIX_EPOCH;
        let sig = s.sign(&key, 100);
        for e in [
            "0100",
            "+100",
            " 100",
            "100 ",
            "",
            "1e2",
            "-1",
            "99999999999999999999999",
        ] {
            assert_eq!(
                s.verify(key.as_str(), e, &sig, now),
                Err(LinkError::Malformed),
                "{e:?}"
            );
        }
        for g in [
            sig.to_uppercase(),
            sig[1..].to_owned(),
            format!("{sig}0"),
            String::new(),
        ] {
            assert_eq!(
                s.verify(key.as_str(), "100", &g, now),
                Err(LinkError::Malformed)
            );
        }
        assert_eq!(
            s.verify("../etc/passwd", "100", &sig, now),
            Err(LinkError::Malformed)
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = LinkSigner::from_secret("super-secret-link-key-0123456789abcdef").unwrap();
        let shown = format!("{s:?} {s:#?}");
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn statuses_are_as_documented() {
        assert_eq!(LinkError::Malformed.http_status(), 404);
        assert_eq!(LinkError::BadSignature.http_status(), 403);
        assert_eq!(LinkError::Expired.http_status(), 403);
    }
}
