//! Per-model validation, run before any work or upstream call.
//!
//! `ModelRules` knows what each model family accepts (dall-e-2, the GPT image family, our own
//! `retouch-fill` engine, and unknown models on OpenAI-compatible upstreams) and turns a parsed
//! `EditRequest` into a `ValidatedEdit` whose every default is resolved, or into the exact OpenAI
//! error. Decisions where OpenAI's behaviour is not documented are stated on the item they affect.
//! Mapping image-decoding failures to per-model messages (`ImageError::into_api`) lives here too,
//! because the wording depends on the model.

use crate::error::ApiError;
use crate::image::{ImageError, ImageFormat, ImageInfo, SniffedFormat, probe, sniff};
use crate::params::{Background, InputFidelity, OutputFormat, Quality, ResponseFormat, SizeParam};
use crate::request::{BodyEncoding, EditRequest, InputFile};

/// The model assumed when a request names none (the spec's current default).
pub const DEFAULT_MODEL: &str = "gpt-image-1.5";
/// Our own engine's model name.
pub const LOCAL_MODEL: &str = "retouch-fill";
/// The local engine's default pixel limit per image: 16 MP (`16 * 1024 * 1024`).
pub const DEFAULT_MAX_PIXELS: u64 = 16 * 1024 * 1024;
/// dall-e-2's per-file limit ("less than 4 MB").
pub const DALLE2_MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// The GPT image models' per-file limit ("less than 50MB").
pub const GPT_MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// dall-e-2's prompt limit in characters.
pub const DALLE2_MAX_PROMPT_CHARS: usize = 1000;
/// The GPT image models' (and our) prompt limit in characters.
pub const GPT_MAX_PROMPT_CHARS: usize = 32000;

const DALLE2_SIZES: [&str; 3] = ["256x256", "512x512", "1024x1024"];
const GPT_SIZES: [&str; 4] = ["1024x1024", "1024x1536", "1536x1024", "auto"];
/// gpt-image-2 free-form sizes: longest edge, pixel budget (3840×2160), minimum budget (1024×640,
/// our reading of "below the current minimum pixel budget" for 576×1024).
const GPT2_MAX_EDGE: u32 = 3840;
const GPT2_MAX_PIXELS: u64 = 3840 * 2160;
const GPT2_MIN_PIXELS: u64 = 1024 * 640;

/// The GPT image models, grouped by what they accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GptImageModel {
    /// `gpt-image-1`.
    Gpt1,
    /// `gpt-image-1-mini`: `input_fidelity` `low` only.
    Gpt1Mini,
    /// `gpt-image-1.5` (the spec's default model).
    Gpt15,
    /// `chatgpt-image-latest`.
    ChatGptLatest,
    /// `gpt-image-2` and its dated snapshots: free-form sizes, no `input_fidelity`, no
    /// transparent background.
    Gpt2,
    /// `gpt-image-2.5-*`: free-form sizes, `xhigh`/`max` quality, no `input_fidelity`.
    Gpt25,
    /// `gpt-image-2.6-*`: as 2.5.
    Gpt26,
}

/// Which `input_fidelity` values a model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FidelitySupport {
    Both,
    LowOnly,
    Unsupported,
}

impl GptImageModel {
    /// Recognises a GPT image model name, ignoring a `-YYYY-MM-DD` snapshot suffix.
    pub fn from_name(name: &str) -> Option<Self> {
        let base = strip_date_suffix(name);
        match base {
            "gpt-image-1" => Some(Self::Gpt1),
            "gpt-image-1-mini" => Some(Self::Gpt1Mini),
            "gpt-image-1.5" => Some(Self::Gpt15),
            "chatgpt-image-latest" => Some(Self::ChatGptLatest),
            "gpt-image-2" => Some(Self::Gpt2),
            b if b.starts_with("gpt-image-2.5") => Some(Self::Gpt25),
            b if b.starts_with("gpt-image-2.6") => Some(Self::Gpt26),
            _ => None,
        }
    }

    fn free_form_sizes(self) -> bool {
        match self {
            Self::Gpt2 | Self::Gpt25 | Self::Gpt26 => true,
            Self::Gpt1 | Self::Gpt1Mini | Self::Gpt15 | Self::ChatGptLatest => false,
        }
    }

    fn extended_quality(self) -> bool {
        match self {
            Self::Gpt25 | Self::Gpt26 => true,
            Self::Gpt1 | Self::Gpt1Mini | Self::Gpt15 | Self::ChatGptLatest | Self::Gpt2 => false,
        }
    }

    fn fidelity(self) -> FidelitySupport {
        match self {
            Self::Gpt1 | Self::Gpt15 | Self::ChatGptLatest => FidelitySupport::Both,
            Self::Gpt1Mini => FidelitySupport::LowOnly,
            Self::Gpt2 | Self::Gpt25 | Self::Gpt26 => FidelitySupport::Unsupported,
        }
    }

    /// gpt-image-2 answers `Transparent background is not supported for this model.`
    fn transparent_background(self) -> bool {
        match self {
            Self::Gpt2 => false,
            Self::Gpt1
            | Self::Gpt1Mini
            | Self::Gpt15
            | Self::ChatGptLatest
            | Self::Gpt25
            | Self::Gpt26 => true,
        }
    }
}

fn strip_date_suffix(name: &str) -> &str {
    // `-2026-04-21`: 11 bytes, digits at fixed places.
    let bytes = name.as_bytes();
    if bytes.len() > 11 {
        let tail = &bytes[bytes.len() - 11..];
        let is_date = tail.iter().enumerate().all(|(i, b)| {
            if matches!(i, 0 | 5 | 8) {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
        if is_date {
            return name.get(..name.len() - 11).unwrap_or(name);
        }
    }
    name
}

/// What a model accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelRules {
    /// `dall-e-2`: one square PNG < 4 MB, sizes 256/512/1024, `url` by default.
    DallE2,
    /// The GPT image family.
    GptImage(GptImageModel),
    /// Our engine: everything dall-e-2 and the GPT image models accept, up to `max_pixels`.
    RetouchFill {
        /// Most pixels per input image and per requested output size.
        max_pixels: u64,
    },
    /// An unknown model on an OpenAI-compatible upstream: only the universal checks.
    Passthrough,
}

/// A request checked against its model's rules, with every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedEdit {
    /// The model the client asked for (or [`DEFAULT_MODEL`]).
    pub model: String,
    /// Images to produce.
    pub n: u32,
    /// How to return them. dall-e-2 defaults to `url`, everything else to `b64_json`.
    pub response_format: ResponseFormat,
    /// Output size; `None` keeps the input's size (or lets the upstream choose for `auto`).
    pub size: Option<(u32, u32)>,
    /// Output encoding.
    pub output_format: OutputFormat,
    /// JPEG quality / WebP compression, as sent.
    pub output_compression: Option<u8>,
    /// Resolved quality (never `auto`: `auto` resolves to `high`).
    pub quality: Quality,
    /// Resolved background (never `auto`).
    pub background: Background,
    /// Whether to answer with server-sent events.
    pub stream: bool,
    /// Partial images to stream before each final image.
    pub partial_images: u32,
    /// Whether the response carries `size`/`quality`/`background`/`output_format`/`usage`
    /// (everything except dall-e-2 and pass-through models).
    pub gpt_style: bool,
    /// The first image's size as a person sees it (after EXIF orientation).
    pub input_size: Option<(u32, u32)>,
}

impl ModelRules {
    /// The rules for a model name. Unknown names get [`ModelRules::Passthrough`].
    pub fn for_model(model: &str) -> Self {
        match model {
            "dall-e-2" => Self::DallE2,
            LOCAL_MODEL => Self::local(DEFAULT_MAX_PIXELS),
            other => GptImageModel::from_name(other).map_or(Self::Passthrough, Self::GptImage),
        }
    }

    /// The rules for a request's `model` (or [`DEFAULT_MODEL`] when absent).
    pub fn for_request(req: &EditRequest) -> Self {
        Self::for_model(requested_model(req))
    }

    /// The local engine's rules with a pixel limit (used for every request on the default route).
    pub fn local(max_pixels: u64) -> Self {
        Self::RetouchFill { max_pixels }
    }

    /// Checks a request and resolves its defaults, or returns the error to send.
    pub fn validate(&self, req: &EditRequest) -> Result<ValidatedEdit, ApiError> {
        match *self {
            Self::DallE2 => validate_dalle2(req),
            Self::GptImage(model) => validate_gpt(model, req),
            Self::RetouchFill { max_pixels } => validate_local(max_pixels, req),
            Self::Passthrough => Ok(validate_passthrough(req)),
        }
    }
}

fn requested_model(req: &EditRequest) -> &str {
    req.model
        .as_deref()
        .filter(|m| !m.is_empty())
        .unwrap_or(DEFAULT_MODEL)
}

fn base_edit(req: &EditRequest) -> ValidatedEdit {
    ValidatedEdit {
        model: requested_model(req).to_owned(),
        n: req.n.unwrap_or(1),
        response_format: req.response_format.unwrap_or(ResponseFormat::B64Json),
        size: req.size.and_then(SizeParam::dimensions),
        output_format: req.output_format.unwrap_or(OutputFormat::Png),
        output_compression: req.output_compression,
        quality: resolve_quality(req.quality),
        background: Background::Opaque,
        stream: req.stream.unwrap_or(false),
        partial_images: req.partial_images.unwrap_or(0),
        gpt_style: false,
        input_size: req
            .images
            .first()
            .and_then(|f| f.info)
            .map(|i| (i.width, i.height)),
    }
}

fn resolve_quality(q: Option<Quality>) -> Quality {
    match q {
        None | Some(Quality::Auto) => Quality::High,
        Some(
            q @ (Quality::Standard
            | Quality::Low
            | Quality::Medium
            | Quality::High
            | Quality::XHigh
            | Quality::Max),
        ) => q,
    }
}

/// `auto` becomes `transparent` only when transparency can survive: a format with alpha, an
/// input with alpha, and a separate mask (without one, the transparent pixels are what gets
/// filled, so the result is opaque).
fn resolve_background(req: &EditRequest, format: OutputFormat) -> Background {
    match req.background {
        Some(Background::Transparent) => Background::Transparent,
        Some(Background::Opaque) => Background::Opaque,
        None | Some(Background::Auto) => {
            let alpha_in = req
                .images
                .first()
                .and_then(|f| f.info)
                .is_some_and(|i| i.has_alpha);
            if format.supports_alpha() && alpha_in && req.mask.is_some() {
                Background::Transparent
            } else {
                Background::Opaque
            }
        }
    }
}

fn check_prompt(req: &EditRequest, max: usize) -> Result<(), ApiError> {
    let len = req.prompt.chars().count();
    if len > max {
        return Err(ApiError::string_too_long("prompt", max, len));
    }
    Ok(())
}

fn check_background_format(req: &EditRequest, format: OutputFormat) -> Result<(), ApiError> {
    if req.background == Some(Background::Transparent) && !format.supports_alpha() {
        return Err(ApiError::invalid_request(
            "Transparent background is not supported for JPEG output format",
            Some("background"),
        )
        .with_code("invalid_value"));
    }
    if format == OutputFormat::Png && req.output_compression.is_some_and(|c| c < 100) {
        return Err(ApiError::invalid_request(
            "Compression less than 100 is not supported for PNG output format; use 'jpeg' or \
             'webp' with 'output_compression', or omit it.",
            Some("output_compression"),
        )
        .with_code("invalid_value"));
    }
    Ok(())
}

fn image_param(file: &InputFile) -> &'static str {
    if file.field == "mask" || file.field.starts_with("mask[") {
        "mask"
    } else if file.field.starts_with("images[") {
        "images"
    } else {
        "image"
    }
}

/// The file's probed header, or the model's message for why it cannot be read.
fn require_info(rules: &ModelRules, file: &InputFile, index: usize) -> Result<ImageInfo, ApiError> {
    match file.info {
        Some(info) => Ok(info),
        None => Err(match probe(&file.data) {
            Err(e) => e.into_api(image_param(file), index, rules),
            Ok(_) => ImageError::Unrecognized.into_api(image_param(file), index, rules),
        }),
    }
}

fn check_mask(
    rules: &ModelRules,
    req: &EditRequest,
    first: Option<ImageInfo>,
) -> Result<(), ApiError> {
    let Some(mask) = &req.mask else {
        return Ok(());
    };
    let info = require_info(rules, mask, 1)?;
    if !info.has_alpha && !matches!(rules, ModelRules::DallE2) {
        return Err(ApiError::invalid_image(
            "Invalid mask image - the mask has no alpha channel. Its fully transparent pixels \
             (alpha = 0) mark the area to edit; send it as a PNG or WebP with transparency.",
            Some("mask"),
        ));
    }
    if let Some(first) = first
        && (info.width, info.height) != (first.width, first.height)
    {
        return Err(ApiError::invalid_request(
            format!(
                "Invalid mask image - mask size {}x{} must match image size {}x{}.",
                info.width, info.height, first.width, first.height
            ),
            Some("mask"),
        )
        .with_code("invalid_value"));
    }
    Ok(())
}

fn dalle2_png(file: &InputFile, param: &str) -> Result<(), ApiError> {
    if sniff(&file.data) != Some(SniffedFormat::Png) || file.data.len() >= DALLE2_MAX_FILE_BYTES {
        return Err(ApiError::invalid_request(
            "Uploaded image must be a PNG and less than 4 MB.",
            Some(param),
        )
        .with_code("invalid_image_format"));
    }
    Ok(())
}

const DALLE2_MODES: [&str; 3] = ["RGBA", "LA", "L"];

/// dall-e-2. Decision: parameters only GPT image models take (`background`, `output_format`,
/// `output_compression`, `input_fidelity`, `partial_images`, `moderation`, `stream=true`) are
/// refused, naming the parameter, as OpenAI refuses parameters a model does not take.
fn validate_dalle2(req: &EditRequest) -> Result<ValidatedEdit, ApiError> {
    let rules = ModelRules::DallE2;
    let model = requested_model(req);
    if req.encoding == BodyEncoding::Json {
        return Err(ApiError::invalid_request(
            "The model 'dall-e-2' accepts multipart/form-data only; JSON bodies are supported \
             for GPT image models.",
            None,
        )
        .with_code("unsupported_content_type"));
    }
    let unsupported: [(&str, bool); 7] = [
        ("background", req.background.is_some()),
        ("output_format", req.output_format.is_some()),
        ("output_compression", req.output_compression.is_some()),
        ("input_fidelity", req.input_fidelity.is_some()),
        ("stream", req.stream == Some(true)),
        ("partial_images", req.partial_images.is_some()),
        ("moderation", req.moderation.is_some()),
    ];
    if let Some((param, _)) = unsupported.iter().find(|(_, given)| *given) {
        return Err(ApiError::unsupported_param(model, param));
    }
    if req.images.len() > 1 {
        return Err(ApiError::invalid_request(
            format!(
                "Invalid 'image': array too long. Expected an array with maximum length 1, but \
                 got an array with length {} instead.",
                req.images.len()
            ),
            Some("image"),
        )
        .with_code("array_above_max_length"));
    }
    let mut first = None;
    if let Some(image) = req.images.first() {
        dalle2_png(image, "image")?;
        let info = require_info(&rules, image, 1)?;
        if info.width != info.height {
            return Err(ApiError::invalid_request(
                format!(
                    "Invalid input image - expected an image with equal width and height, got \
                     {}x{} instead.",
                    info.width, info.height
                ),
                Some("image"),
            ));
        }
        if req.mask.is_none() && !DALLE2_MODES.contains(&info.pil_mode()) {
            return Err(ApiError::invalid_request(
                format!(
                    "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got {}.",
                    info.pil_mode()
                ),
                Some("image"),
            ));
        }
        first = Some(info);
    }
    if let Some(mask) = &req.mask {
        dalle2_png(mask, "mask")?;
        let info = require_info(&rules, mask, 1)?;
        if !DALLE2_MODES.contains(&info.pil_mode()) {
            return Err(ApiError::invalid_request(
                format!(
                    "Invalid mask image - format must be in ['RGBA', 'LA', 'L'], got {}.",
                    info.pil_mode()
                ),
                Some("mask"),
            ));
        }
    }
    check_mask(&rules, req, first)?;
    check_prompt(req, DALLE2_MAX_PROMPT_CHARS)?;
    let size = match req.size {
        None => (1024, 1024),
        Some(SizeParam::Exact { width, height })
            if width == height && matches!(width, 256 | 512 | 1024) =>
        {
            (width, height)
        }
        Some(s @ (SizeParam::Auto | SizeParam::Exact { .. })) => {
            return Err(ApiError::invalid_value(
                "size",
                &s.to_string(),
                &DALLE2_SIZES,
            ));
        }
    };
    let quality = match req.quality {
        None | Some(Quality::Standard | Quality::Auto) => Quality::Standard,
        Some(
            q @ (Quality::Low | Quality::Medium | Quality::High | Quality::XHigh | Quality::Max),
        ) => {
            return Err(ApiError::invalid_value(
                "quality",
                q.as_str(),
                &["standard"],
            ));
        }
    };
    Ok(ValidatedEdit {
        response_format: req.response_format.unwrap_or(ResponseFormat::Url),
        size: Some(size),
        quality,
        ..base_edit(req)
    })
}

fn check_gpt_images(rules: &ModelRules, req: &EditRequest) -> Result<Option<ImageInfo>, ApiError> {
    let mut first = None;
    for (i, image) in req.images.iter().enumerate() {
        let index = i + 1;
        if image.data.len() >= GPT_MAX_FILE_BYTES {
            return Err(ApiError::invalid_request(
                format!(
                    "Invalid input image - image {index} is {} bytes; images must be less than \
                     {GPT_MAX_FILE_BYTES} bytes (50 MB).",
                    image.data.len()
                ),
                Some(image_param(image)),
            )
            .with_code("image_too_large"));
        }
        let info = require_info(rules, image, index)?;
        first.get_or_insert(info);
    }
    Ok(first)
}

fn validate_gpt(model: GptImageModel, req: &EditRequest) -> Result<ValidatedEdit, ApiError> {
    let rules = ModelRules::GptImage(model);
    let name = requested_model(req);
    if req.response_format.is_some() {
        return Err(ApiError::unknown_param("response_format"));
    }
    let first = check_gpt_images(&rules, req)?;
    check_mask(&rules, req, first)?;
    check_prompt(req, GPT_MAX_PROMPT_CHARS)?;
    let size = match req.size {
        None | Some(SizeParam::Auto) => None,
        Some(SizeParam::Exact { width, height }) if model.free_form_sizes() => {
            check_gpt2_size(width, height)?;
            Some((width, height))
        }
        Some(s @ SizeParam::Exact { width, height }) => {
            if !GPT_SIZES.contains(&s.to_string().as_str()) {
                return Err(ApiError::invalid_value("size", &s.to_string(), &GPT_SIZES));
            }
            Some((width, height))
        }
    };
    if let Some(q) = req.quality {
        let mut allowed = vec!["low", "medium", "high", "auto"];
        if model.extended_quality() {
            allowed.extend(["xhigh", "max"]);
        }
        if !allowed.contains(&q.as_str()) {
            return Err(ApiError::invalid_value("quality", q.as_str(), &allowed));
        }
    }
    if req.background == Some(Background::Transparent) && !model.transparent_background() {
        return Err(ApiError::invalid_request(
            "Transparent background is not supported for this model.",
            Some("background"),
        )
        .with_code("invalid_value"));
    }
    let output_format = req.output_format.unwrap_or(OutputFormat::Png);
    check_background_format(req, output_format)?;
    if let Some(fidelity) = req.input_fidelity {
        match (model.fidelity(), fidelity) {
            (FidelitySupport::Both, InputFidelity::High | InputFidelity::Low)
            | (FidelitySupport::LowOnly, InputFidelity::Low) => {}
            (FidelitySupport::LowOnly, InputFidelity::High) => {
                return Err(ApiError::invalid_value("input_fidelity", "high", &["low"]));
            }
            (FidelitySupport::Unsupported, InputFidelity::High | InputFidelity::Low) => {
                return Err(ApiError::invalid_request(
                    format!("The model '{name}' does not support the 'input_fidelity' parameter."),
                    Some("input_fidelity"),
                )
                .with_code("invalid_input_fidelity_model"));
            }
        }
    }
    Ok(ValidatedEdit {
        response_format: ResponseFormat::B64Json,
        size,
        output_format,
        background: resolve_background(req, output_format),
        gpt_style: true,
        ..base_edit(req)
    })
}

fn check_gpt2_size(width: u32, height: u32) -> Result<(), ApiError> {
    let fail = |why: &str| {
        Err(ApiError::new(
            400,
            crate::error::ErrorKind::ImageGenerationUser,
            format!("Invalid size '{width}x{height}'. {why}"),
        )
        .with_param("size")
        .with_code("invalid_value"))
    };
    let pixels = u64::from(width) * u64::from(height);
    if width.max(height) > GPT2_MAX_EDGE {
        return fail(&format!(
            "The longest edge must be less than or equal to {GPT2_MAX_EDGE}."
        ));
    }
    if !width.is_multiple_of(16) || !height.is_multiple_of(16) {
        return fail("Width and height must both be multiples of 16.");
    }
    if u64::from(width.max(height)) > 3 * u64::from(width.min(height)) {
        return fail("The aspect ratio must be between 1:3 and 3:1.");
    }
    if pixels > GPT2_MAX_PIXELS {
        return fail("Requested resolution is above the current maximum pixel budget.");
    }
    if pixels < GPT2_MIN_PIXELS {
        return fail("Requested resolution is below the current minimum pixel budget.");
    }
    Ok(())
}

/// Our engine. Decisions: it takes the union of what dall-e-2 and the GPT image models take
/// (so `response_format` and `stream` are both fine whatever `model` says); it uses the first
/// image and ignores the rest; with no mask it fills the image's transparent pixels, so an image
/// without an alpha channel and no mask is refused (there would be nothing to fill).
fn validate_local(max_pixels: u64, req: &EditRequest) -> Result<ValidatedEdit, ApiError> {
    let rules = ModelRules::RetouchFill { max_pixels };
    let model = requested_model(req);
    let mut first = None;
    for (i, image) in req.images.iter().enumerate() {
        let index = i + 1;
        let info = require_info(&rules, image, index)?;
        if info.pixels() > max_pixels {
            return Err(ImageError::TooLarge {
                width: info.width,
                height: info.height,
                limit: max_pixels,
            }
            .into_api(image_param(image), index, &rules));
        }
        first.get_or_insert(info);
    }
    check_mask(&rules, req, first)?;
    if req.mask.is_none() && first.is_some_and(|info| !info.has_alpha) {
        return Err(ApiError::invalid_image(
            "Invalid input image - the image has no transparent pixels and no mask was given, so \
             there is nothing to fill. Send a mask whose fully transparent pixels (alpha = 0) \
             mark the area to edit, or make that area of the image transparent.",
            Some("image"),
        ));
    }
    check_prompt(req, GPT_MAX_PROMPT_CHARS)?;
    let size = match req.size {
        None | Some(SizeParam::Auto) => None,
        Some(SizeParam::Exact { width, height }) => {
            if u64::from(width) * u64::from(height) > max_pixels {
                return Err(ApiError::invalid_request(
                    format!(
                        "Invalid size '{width}x{height}'. The local engine produces at most \
                         {max_pixels} pixels per image; ask for a smaller size."
                    ),
                    Some("size"),
                )
                .with_code("invalid_value"));
            }
            Some((width, height))
        }
    };
    let output_format = req.output_format.unwrap_or(OutputFormat::Png);
    check_background_format(req, output_format)?;
    let dalle = model == "dall-e-2";
    Ok(ValidatedEdit {
        response_format: req.response_format.unwrap_or(if dalle {
            ResponseFormat::Url
        } else {
            ResponseFormat::B64Json
        }),
        size,
        output_format,
        background: resolve_background(req, output_format),
        gpt_style: !dalle,
        ..base_edit(req)
    })
}

/// Unknown models: the universal checks were done while parsing; the upstream decides the rest.
fn validate_passthrough(req: &EditRequest) -> ValidatedEdit {
    ValidatedEdit {
        background: resolve_background(req, req.output_format.unwrap_or(OutputFormat::Png)),
        ..base_edit(req)
    }
}

impl ImageError {
    /// The client-facing error for this failure on input `index` (1-based) sent as `param`,
    /// worded as the model's rules word it.
    pub fn into_api(&self, param: &str, index: usize, rules: &ModelRules) -> ApiError {
        let is_mask = param == "mask";
        let (prefix, subject) = if is_mask {
            ("Invalid mask image", "the mask".to_owned())
        } else if index <= 1 {
            ("Invalid input image", "the image".to_owned())
        } else {
            ("Invalid input image", format!("image {index}"))
        };
        let gpt_generic = || {
            ApiError::invalid_image(
                format!(
                    "Invalid image file or mode for image {}, please check your image file.",
                    index.max(1)
                ),
                Some(param),
            )
        };
        match self {
            Self::TooLarge {
                width,
                height,
                limit,
            } => {
                let what = if is_mask {
                    "mask".to_owned()
                } else if index <= 1 {
                    "image".to_owned()
                } else {
                    format!("image {index}")
                };
                ApiError::invalid_request(
                    format!(
                        "{prefix} - {what} is {width}x{height} pixels ({} pixels); the maximum \
                         is {limit} pixels. Resize it and try again.",
                        u64::from(*width) * u64::from(*height)
                    ),
                    Some(param),
                )
                .with_code("image_too_large")
            }
            Self::MemoryLimit { needed, limit } => ApiError::invalid_request(
                format!(
                    "{prefix} - decoding {subject} needs {needed} bytes; the maximum is {limit} \
                     bytes. Resize it and try again."
                ),
                Some(param),
            )
            .with_code("image_too_large"),
            Self::Unrecognized | Self::Unsupported(_) if matches!(rules, ModelRules::DallE2) => {
                ApiError::invalid_request(
                    "Uploaded image must be a PNG and less than 4 MB.",
                    Some(param),
                )
                .with_code("invalid_image_format")
            }
            Self::Unrecognized
            | Self::Unsupported(_)
            | Self::Corrupt(_)
            | Self::DecoderLimit(_)
                if matches!(rules, ModelRules::GptImage(_)) =>
            {
                gpt_generic()
            }
            Self::Unrecognized => ApiError::invalid_image(
                format!("{prefix} - {subject} is not a PNG, JPEG or WebP file."),
                Some(param),
            ),
            Self::Unsupported(format) => ApiError::invalid_image(
                format!(
                    "{prefix} - {subject} is a {format} file; supported formats are PNG, JPEG \
                     and WebP."
                ),
                Some(param),
            ),
            Self::Corrupt(why) | Self::DecoderLimit(why) => ApiError::invalid_image(
                format!(
                    "{prefix} - {subject} could not be read ({why}). Check that the file is \
                     complete and not corrupt."
                ),
                Some(param),
            ),
            Self::InvalidBuffer(why) | Self::Encode(why) => ApiError::internal(why.clone()),
        }
    }
}

/// The supported input formats, for documentation and messages.
pub const SUPPORTED_INPUT_FORMATS: [ImageFormat; 3] =
    [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp];

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
