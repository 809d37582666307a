//! Names of stored images: [`ImageExt`] (the three formats we host) and [`ImageKey`]
//! (a random 128-bit id plus extension).
//!
//! A key arrives from the outside world inside a link, so parsing is deliberately strict:
//! exactly 32 lowercase hex digits, one dot, one known extension. Nothing else — no
//! slashes, dots, percent signs, backslashes, NUL or non-ASCII — can survive it, which is
//! what keeps a crafted link from naming any path outside the store.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;

/// Number of random bytes in an image id (128 bits: unguessable, collision-free in practice).
const ID_BYTES: usize = 16;
/// Length of the id in lowercase hex.
const ID_HEX_LEN: usize = ID_BYTES * 2;
/// Longest possible key (`id` + `.` + longest extension); anything longer is rejected unread.
pub(crate) const MAX_KEY_LEN: usize = ID_HEX_LEN + 1 + 4;

/// The image formats the store hosts, matching OpenAI's `output_format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageExt {
    /// `image/png`
    Png,
    /// `image/jpeg`
    Jpeg,
    /// `image/webp`
    Webp,
}

impl ImageExt {
    /// The file extension used in keys (`png`, `jpeg`, `webp`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
        }
    }

    /// The `Content-Type` served for this format.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }
}

impl fmt::Display for ImageExt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An extension that is not one of [`ImageExt`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported image format {0:?}; expected png, jpeg or webp")]
pub struct UnknownExt(String);

impl FromStr for ImageExt {
    type Err = UnknownExt;

    /// Accepts exactly `png`, `jpeg` or `webp` (the spellings OpenAI's `output_format` uses).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "png" => Ok(Self::Png),
            "jpeg" => Ok(Self::Jpeg),
            "webp" => Ok(Self::Webp),
            other => Err(UnknownExt(other.chars().take(16).collect())),
        }
    }
}

/// The name of one stored image: `{32 lowercase hex digits}.{png|jpeg|webp}`.
///
/// Only [`ImageKey::generate`] and the strict [`FromStr`] parser make one, so a value of this
/// type is always safe to use as an object name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageKey {
    /// The whole key, `id.ext`; kept whole because it is what links and paths carry.
    text: String,
    ext: ImageExt,
}

/// Why a string is not an [`ImageKey`]. Deliberately carries no detail: the input is
/// attacker-controlled and only ever answered with a 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid image key")]
pub struct InvalidKey;

impl ImageKey {
    /// A fresh key with a random 128-bit id from the thread-local CSPRNG.
    #[must_use]
    pub fn generate(ext: ImageExt) -> Self {
        let mut id = [0_u8; ID_BYTES];
        rand::rng().fill_bytes(&mut id);
        Self {
            text: format!("{}.{}", hex::encode(id), ext.as_str()),
            ext,
        }
    }

    /// The key as it appears in links and object names.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The image format named by the key's extension.
    #[must_use]
    pub const fn ext(&self) -> ImageExt {
        self.ext
    }

    /// The `Content-Type` to serve this image with.
    #[must_use]
    pub const fn content_type(&self) -> &'static str {
        self.ext.content_type()
    }

    /// The 32-hex-digit id part.
    #[must_use]
    pub fn id(&self) -> &str {
        self.text.get(..ID_HEX_LEN).unwrap_or_default()
    }
}

impl fmt::Display for ImageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for ImageKey {
    type Err = InvalidKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_KEY_LEN {
            return Err(InvalidKey);
        }
        let (id, ext) = s.split_once('.').ok_or(InvalidKey)?;
        let id_ok = id.len() == ID_HEX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !id_ok {
            return Err(InvalidKey);
        }
        // `ext` cannot contain another dot or anything odd: only the three exact spellings match.
        let ext = ext.parse::<ImageExt>().map_err(|_| InvalidKey)?;
        Ok(Self {
            text: s.to_owned(),
            ext,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_and_differ() {
        let a = ImageKey::generate(ImageExt::Png);
        let b = ImageKey::generate(ImageExt::Png);
        assert_ne!(a, b);
        assert_eq!(a.as_str().parse::<ImageKey>(), Ok(a.clone()));
        assert_eq!(a.as_str().len(), 36);
        assert!(a.as_str().ends_with(".png"));
        assert_eq!(a.id().len(), 32);
        let w = ImageKey::generate(ImageExt::Webp);
        assert_eq!(w.content_type(), "image/webp");
        assert_eq!(w.as_str().len(), MAX_KEY_LEN);
    }

    #[test]
    fn hostile_keys_are_rejected() {
        let good = "0123456789abcdef0123456789abcdef";
        for bad in [
            String::new(),
            "../x".to_owned(),
            format!("../{good}.png"),
            format!("{good}.png/../../etc/passwd"),
            format!("..%2f{good}.png"),
            format!("%2e%2e/{good}.png"),
            format!("/{good}.png"),
            format!("{good}/.png"),
            format!("{good}\\.png"),
            format!("..\\{good}.png"),
            format!("{good}.png\0"),
            format!("{good}\0.png"),
            format!("{good}.PNG"),
            format!("{good}.jpg"),
            format!("{good}.png.png"),
            format!("{good}..png"),
            format!("{}.png", good.to_uppercase()),
            format!("{good}0.png"),
            format!("{}.png", &good[1..]),
            format!("{}\u{2024}png", good),
            format!("\u{ff0e}\u{ff0e}/{good}.png"),
            format!("{good}.png{}", "a".repeat(10_000)),
            format!("{good}.png "),
            format!(" {good}.png"),
            format!("{good}.gif"),
        ] {
            assert_eq!(bad.parse::<ImageKey>(), Err(InvalidKey), "{bad:?}");
        }
        assert!(format!("{good}.jpeg").parse::<ImageKey>().is_ok());
    }

    #[test]
    fn ext_round_trips() {
        for ext in [ImageExt::Png, ImageExt::Jpeg, ImageExt::Webp] {
            assert_eq!(ext.as_str().parse::<ImageExt>(), Ok(ext));
            assert!(ext.content_type().starts_with("image/"));
        }
        assert!("gif".parse::<ImageExt>().is_err());
    }
}
