//! The enumerated request parameters (`size`, `quality`, `background`, ...) and their wire strings.
//!
//! Each enum holds the union of values any supported model accepts; which subset a given model
//! takes is decided in `rules.rs`. Parsing here is purely syntactic.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines a closed string enum with `as_str`, `parse`, `VALUES`, `Display` and serde as strings.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every accepted wire string, in documentation order.
            pub const VALUES: &'static [&'static str] = &[$($wire),+];

            /// The wire string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }

            /// Parses the exact wire string.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($wire => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::parse(&s).ok_or_else(|| {
                    serde::de::Error::unknown_variant(&s, Self::VALUES)
                })
            }
        }
    };
}

wire_enum! {
    /// `response_format`: how images come back.
    ResponseFormat {
        /// A signed link valid for a limited time.
        Url => "url",
        /// Base64 in the JSON body.
        B64Json => "b64_json",
    }
}

wire_enum! {
    /// `quality`: dall-e-2 takes `standard`; GPT image models `low|medium|high|auto`
    /// (`xhigh|max` on the 2.5/2.6 models).
    Quality {
        /// dall-e-2's only value.
        Standard => "standard",
        /// Fastest.
        Low => "low",
        /// Balanced.
        Medium => "medium",
        /// Best.
        High => "high",
        /// Let the server choose; always resolved before responding.
        Auto => "auto",
        /// gpt-image-2.5/2.6 only.
        XHigh => "xhigh",
        /// gpt-image-2.5/2.6 only.
        Max => "max",
    }
}

wire_enum! {
    /// `background`: GPT image models only.
    Background {
        /// Keep/produce transparency (png/webp only).
        Transparent => "transparent",
        /// Fully opaque output.
        Opaque => "opaque",
        /// Let the server choose; always resolved before responding.
        Auto => "auto",
    }
}

wire_enum! {
    /// `output_format`: GPT image models and the local engine.
    OutputFormat {
        /// PNG (default).
        Png => "png",
        /// JPEG (no alpha).
        Jpeg => "jpeg",
        /// WebP.
        Webp => "webp",
    }
}

impl OutputFormat {
    /// The MIME type of images in this format.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
        }
    }

    /// Whether the format can carry an alpha channel.
    pub fn supports_alpha(self) -> bool {
        match self {
            Self::Png | Self::Webp => true,
            Self::Jpeg => false,
        }
    }
}

wire_enum! {
    /// `input_fidelity`: how closely to follow the input images' features.
    InputFidelity {
        /// Preserve faces, logos and details more closely.
        High => "high",
        /// Default.
        Low => "low",
    }
}

wire_enum! {
    /// `moderation`: content moderation strictness.
    Moderation {
        /// Less restrictive.
        Low => "low",
        /// Default.
        Auto => "auto",
    }
}

/// `size`: `auto` or `WIDTHxHEIGHT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeParam {
    /// Let the server choose (the local engine keeps the input's size).
    Auto,
    /// An explicit size in pixels; both sides are positive.
    Exact {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

impl SizeParam {
    /// Parses `auto` or `WxH` (lower- or upper-case `x`), both sides positive integers.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "auto" {
            return Some(Self::Auto);
        }
        let (w, h) = s.split_once(['x', 'X'])?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(w) || !digits(h) {
            return None;
        }
        let width: u32 = w.parse().ok()?;
        let height: u32 = h.parse().ok()?;
        (width > 0 && height > 0).then_some(Self::Exact { width, height })
    }

    /// The explicit dimensions, or `None` for `auto`.
    pub fn dimensions(self) -> Option<(u32, u32)> {
        match self {
            Self::Auto => None,
            Self::Exact { width, height } => Some((width, height)),
        }
    }
}

impl fmt::Display for SizeParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Exact { width, height } => write!(f, "{width}x{height}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_parses_and_displays() {
        assert_eq!(SizeParam::parse("auto"), Some(SizeParam::Auto));
        assert_eq!(
            SizeParam::parse("1536x1024"),
            Some(SizeParam::Exact {
                width: 1536,
                height: 1024
            })
        );
        assert_eq!(
            SizeParam::parse("7X9"),
            Some(SizeParam::Exact {
                width: 7,
                height: 9
            })
        );
        for bad in [
            "", "x", "0x5", "5x0", "-1x5", "+1x5", "1x", "1.5x2", "big", "1x2x3", "AUTO",
        ] {
            assert_eq!(SizeParam::parse(bad), None, "{bad}");
        }
        assert_eq!(SizeParam::parse("99999999999x1"), None);
        assert_eq!(
            SizeParam::Exact {
                width: 3,
                height: 4
            }
            .to_string(),
            "3x4"
        );
        assert_eq!(SizeParam::Auto.to_string(), "auto");
    }

    #[test]
    fn enums_round_trip_their_wire_strings() {
        for s in Quality::VALUES {
            assert_eq!(Quality::parse(s).map(Quality::as_str), Some(*s));
        }
        assert_eq!(Quality::parse("HIGH"), None);
        assert_eq!(
            ResponseFormat::parse("b64_json"),
            Some(ResponseFormat::B64Json)
        );
        assert_eq!(OutputFormat::Jpeg.mime(), "image/jpeg");
        assert_eq!(OutputFormat::Webp.extension(), "webp");
        assert!(!OutputFormat::Jpeg.supports_alpha());
        assert_eq!(
            serde_json::to_string(&Background::Transparent).unwrap(),
            "\"transparent\""
        );
        let q: Quality = serde_json::from_str("\"medium\"").unwrap();
        assert_eq!(q, Quality::Medium);
        assert!(serde_json::from_str::<Quality>("\"ultra\"").is_err());
    }
}
