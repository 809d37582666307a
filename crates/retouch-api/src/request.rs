//! The typed, syntactically parsed edit request, built from a multipart form or a JSON body.
//!
//! Parsing checks what is true for every model: field names and types, duplicates, UTF-8,
//! required fields, integer ranges that are the same for all models (`n` 1..10,
//! `output_compression` 0..100, `partial_images` 0..3) and the enumerated values any model
//! accepts. What a particular model accepts (sizes, formats, prompt length) is `rules.rs`'s job.
//!
//! Image files are probed from their bytes here (format, dimensions, colour model) so the rules can
//! check them without decoding pixels. The part's `Content-Type` is kept but never trusted.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::form::{EditForm, FormPart};
use crate::image::{ImageInfo, probe, sniff};
use crate::params::{
    Background, InputFidelity, Moderation, OutputFormat, Quality, ResponseFormat, SizeParam,
};

/// Most input images any model accepts (OpenAI's limit).
pub const MAX_IMAGES: usize = 16;
/// OpenAI's limit on a JSON `image_url` string.
pub const MAX_IMAGE_URL_CHARS: usize = 20_971_520;

/// One uploaded image or mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The field it came in: `image`, `image[]`, `image[3]`, `mask`, or `images[0]` in JSON.
    pub field: String,
    /// The client's filename, if any.
    pub filename: Option<String>,
    /// The declared content type (multipart header or data-URL media type). Informational only.
    pub content_type: Option<String>,
    /// The file's bytes.
    pub data: Bytes,
    /// Header facts probed from the bytes; `None` if they are not a readable PNG/JPEG/WebP.
    pub info: Option<ImageInfo>,
}

impl InputFile {
    /// Wraps bytes and probes their header.
    pub fn new(
        field: impl Into<String>,
        filename: Option<String>,
        content_type: Option<String>,
        data: Bytes,
    ) -> Self {
        let info = probe(&data).ok();
        Self {
            field: field.into(),
            filename,
            content_type,
            data,
            info,
        }
    }
}

/// How the request body was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyEncoding {
    /// `multipart/form-data` (what every SDK sends).
    Multipart,
    /// `application/json` (`EditImageBodyJsonParam`, GPT image models).
    Json,
}

/// A parsed `POST /v1/images/edits` request, not yet checked against a model's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditRequest {
    /// Input images in arrival order; never empty after parsing.
    pub images: Vec<InputFile>,
    /// The mask (applies to the first image).
    pub mask: Option<InputFile>,
    /// The prompt; never empty after parsing.
    pub prompt: String,
    /// The `model` field as sent.
    pub model: Option<String>,
    /// `n`, already checked to be 1..=10.
    pub n: Option<u32>,
    /// `size`.
    pub size: Option<SizeParam>,
    /// `response_format`.
    pub response_format: Option<ResponseFormat>,
    /// `quality`.
    pub quality: Option<Quality>,
    /// `background`.
    pub background: Option<Background>,
    /// `output_format`.
    pub output_format: Option<OutputFormat>,
    /// `output_compression`, already checked to be 0..=100.
    pub output_compression: Option<u8>,
    /// `input_fidelity`.
    pub input_fidelity: Option<InputFidelity>,
    /// `stream`.
    pub stream: Option<bool>,
    /// `partial_images`, already checked to be 0..=3.
    pub partial_images: Option<u32>,
    /// `moderation`.
    pub moderation: Option<Moderation>,
    /// `user`.
    pub user: Option<String>,
    /// Unknown fields in arrival order, for pass-through. Multipart: the text as sent.
    /// JSON: the value as JSON text (so a string keeps its quotes).
    pub extra: Vec<(String, String)>,
    /// Which encoding the body used.
    pub encoding: BodyEncoding,
}

/// Limits for JSON bodies (the server bounds the body size itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonLimits {
    /// Longest accepted `image_url` string, in characters.
    pub max_image_url_chars: usize,
    /// Largest accepted decoded image, in bytes.
    pub max_image_bytes: usize,
}

impl Default for JsonLimits {
    fn default() -> Self {
        Self {
            max_image_url_chars: MAX_IMAGE_URL_CHARS,
            max_image_bytes: 50 * 1024 * 1024,
        }
    }
}

/// The scalar fields every model may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TextField {
    Prompt,
    Model,
    N,
    Size,
    ResponseFormat,
    Quality,
    Background,
    OutputFormat,
    OutputCompression,
    InputFidelity,
    Stream,
    PartialImages,
    Moderation,
    User,
}

impl TextField {
    const ALL: [Self; 14] = [
        Self::Prompt,
        Self::Model,
        Self::N,
        Self::Size,
        Self::ResponseFormat,
        Self::Quality,
        Self::Background,
        Self::OutputFormat,
        Self::OutputCompression,
        Self::InputFidelity,
        Self::Stream,
        Self::PartialImages,
        Self::Moderation,
        Self::User,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Prompt => "prompt",
            Self::Model => "model",
            Self::N => "n",
            Self::Size => "size",
            Self::ResponseFormat => "response_format",
            Self::Quality => "quality",
            Self::Background => "background",
            Self::OutputFormat => "output_format",
            Self::OutputCompression => "output_compression",
            Self::InputFidelity => "input_fidelity",
            Self::Stream => "stream",
            Self::PartialImages => "partial_images",
            Self::Moderation => "moderation",
            Self::User => "user",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// What a multipart field name refers to.
enum FieldName {
    Image,
    Mask,
    Text(TextField),
    Unknown,
}

fn classify(name: &str) -> FieldName {
    // `image[3]` is how some clients index arrays; OpenAI itself reports them that way.
    let indexed = |base: &str| {
        name.strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('['))
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|idx| idx.bytes().all(|b| b.is_ascii_digit()))
    };
    if name == "image" || indexed("image") {
        FieldName::Image
    } else if name == "mask" || indexed("mask") {
        FieldName::Mask
    } else if let Some(field) = TextField::from_name(name) {
        FieldName::Text(field)
    } else {
        FieldName::Unknown
    }
}

impl EditRequest {
    /// An empty request of the given encoding; parsing fills it in.
    fn empty(encoding: BodyEncoding) -> Self {
        Self {
            images: Vec::new(),
            mask: None,
            prompt: String::new(),
            model: None,
            n: None,
            size: None,
            response_format: None,
            quality: None,
            background: None,
            output_format: None,
            output_compression: None,
            input_fidelity: None,
            stream: None,
            partial_images: None,
            moderation: None,
            user: None,
            extra: Vec::new(),
            encoding,
        }
    }

    /// Parses a multipart form (parts in any order; `image`, `image[]` and `image[N]` in any mix).
    pub fn from_form(form: EditForm) -> Result<Self, ApiError> {
        let mut req = Self::empty(BodyEncoding::Multipart);
        let mut prompt = None;
        let mut seen: Vec<TextField> = Vec::new();
        for part in form.parts {
            match classify(&part.name) {
                FieldName::Image => {
                    ensure_file_part(&part)?;
                    req.images.push(file_from_part(part));
                }
                FieldName::Mask => {
                    ensure_file_part(&part)?;
                    if req.mask.is_some() {
                        return Err(duplicate_param("mask"));
                    }
                    req.mask = Some(file_from_part(part));
                }
                FieldName::Text(field) => {
                    if part.filename.is_some() {
                        return Err(ApiError::invalid_request(
                            format!(
                                "Invalid type for '{}': expected a string, but got a file instead.",
                                field.name()
                            ),
                            Some(field.name()),
                        )
                        .with_code("invalid_type"));
                    }
                    if seen.contains(&field) {
                        return Err(duplicate_param(field.name()));
                    }
                    seen.push(field);
                    let text = utf8_text(field.name(), &part.data)?;
                    if field == TextField::Prompt {
                        prompt = Some(text.to_owned());
                    } else {
                        req.set_text(field, text)?;
                    }
                }
                FieldName::Unknown => {
                    if part.filename.is_some() {
                        return Err(ApiError::invalid_request(
                            format!(
                                "Unknown parameter: '{}'. Only 'image' (or 'image[]') and 'mask' \
                                 accept files.",
                                part.name
                            ),
                            Some(&part.name),
                        )
                        .with_code("unknown_parameter"));
                    }
                    let text = utf8_text(&part.name, &part.data)?.to_owned();
                    req.extra.push((part.name, text));
                }
            }
        }
        req.finish(prompt, "image")
    }

    /// Parses a JSON body (`EditImageBodyJsonParam`): `images: [{image_url}]` with `data:` URLs.
    pub fn from_json(body: &[u8], limits: &JsonLimits) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| {
            ApiError::invalid_request(
                "We could not parse the JSON body of your request. The endpoint expects a JSON \
                 object, or multipart/form-data.",
                None,
            )
        })?;
        let Value::Object(map) = value else {
            return Err(ApiError::invalid_request(
                format!(
                    "Invalid type for request body: expected an object, but got {} instead.",
                    json_type_name(&value)
                ),
                None,
            )
            .with_code("invalid_type"));
        };
        let mut req = Self::empty(BodyEncoding::Json);
        let mut prompt = None;
        for (key, value) in map {
            if value.is_null() {
                continue;
            }
            match key.as_str() {
                "images" => req.images = json_images(&value, limits)?,
                "mask" => req.mask = Some(json_image_ref("mask", &value, limits)?),
                "prompt" => prompt = Some(json_string("prompt", &value)?.to_owned()),
                name => match TextField::from_name(name) {
                    Some(field) => req.set_json(field, &value)?,
                    None => req.extra.push((key.clone(), value.to_string())),
                },
            }
        }
        req.finish(prompt, "images")
    }

    /// The checks shared by both encodings once every field is in.
    fn finish(mut self, prompt: Option<String>, image_param: &str) -> Result<Self, ApiError> {
        if self.images.is_empty() {
            return Err(ApiError::missing_param(image_param));
        }
        // The JSON path checks its own array length, naming `images`.
        if self.images.len() > MAX_IMAGES {
            return Err(too_many_images(self.images.len()));
        }
        let prompt = prompt.ok_or_else(|| ApiError::missing_param("prompt"))?;
        if prompt.is_empty() {
            return Err(ApiError::invalid_request(
                "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got \
                 an empty string instead.",
                Some("prompt"),
            )
            .with_code("empty_string"));
        }
        self.prompt = prompt;
        Ok(self)
    }

    /// Stores one multipart text field, parsing it to its type.
    fn set_text(&mut self, field: TextField, raw: &str) -> Result<(), ApiError> {
        let name = field.name();
        let t = raw.trim();
        match field {
            // The prompt is taken verbatim by the caller; kept here for exhaustiveness.
            TextField::Prompt => {}
            TextField::Model => self.model = Some(t.to_owned()),
            TextField::User => self.user = Some(raw.to_owned()),
            TextField::N => self.n = Some(check_n(text_int(name, t)?)?),
            TextField::OutputCompression => {
                self.output_compression = Some(check_compression(text_int(name, t)?)?);
            }
            TextField::PartialImages => {
                self.partial_images = Some(check_partial_images(text_int(name, t)?)?);
            }
            TextField::Stream => self.stream = Some(text_bool(name, t)?),
            TextField::Size => self.size = Some(parse_size(t)?),
            TextField::ResponseFormat => {
                self.response_format = Some(parse_enum(
                    name,
                    t,
                    ResponseFormat::parse,
                    ResponseFormat::VALUES,
                )?);
            }
            TextField::Quality => {
                self.quality = Some(parse_enum(name, t, Quality::parse, Quality::VALUES)?);
            }
            TextField::Background => {
                self.background = Some(parse_enum(name, t, Background::parse, Background::VALUES)?);
            }
            TextField::OutputFormat => {
                self.output_format = Some(parse_enum(
                    name,
                    t,
                    OutputFormat::parse,
                    OutputFormat::VALUES,
                )?);
            }
            TextField::InputFidelity => {
                self.input_fidelity = Some(parse_enum(
                    name,
                    t,
                    InputFidelity::parse,
                    InputFidelity::VALUES,
                )?);
            }
            TextField::Moderation => {
                self.moderation = Some(parse_enum(name, t, Moderation::parse, Moderation::VALUES)?);
            }
        }
        Ok(())
    }

    /// Stores one JSON scalar field; JSON carries real types, so `n` must be a number, etc.
    fn set_json(&mut self, field: TextField, value: &Value) -> Result<(), ApiError> {
        let name = field.name();
        match field {
            TextField::N => self.n = Some(check_n(json_int(name, value)?)?),
            TextField::OutputCompression => {
                self.output_compression = Some(check_compression(json_int(name, value)?)?);
            }
            TextField::PartialImages => {
                self.partial_images = Some(check_partial_images(json_int(name, value)?)?);
            }
            TextField::Stream => {
                self.stream = Some(
                    value
                        .as_bool()
                        .ok_or_else(|| wrong_json_type(name, "a boolean", value))?,
                );
            }
            TextField::Prompt
            | TextField::Model
            | TextField::User
            | TextField::Size
            | TextField::ResponseFormat
            | TextField::Quality
            | TextField::Background
            | TextField::OutputFormat
            | TextField::InputFidelity
            | TextField::Moderation => {
                let s = json_string(name, value)?;
                self.set_text(field, s)?;
            }
        }
        Ok(())
    }
}

fn ensure_file_part(part: &FormPart) -> Result<(), ApiError> {
    // A file part is one with a filename. Clients that omit it (hand-written forms) still send a
    // non-text content type or recognisable image bytes; a plain text value is a caller mistake.
    let is_text_type = part
        .content_type
        .as_deref()
        .is_none_or(|ct| ct.trim().to_ascii_lowercase().starts_with("text/"));
    if part.filename.is_some() || !is_text_type || sniff(&part.data).is_some() {
        return Ok(());
    }
    Err(ApiError::invalid_request(
        format!(
            "Invalid type for '{}': expected a file, but got a string instead. Upload the image \
             as a file part (curl: -F '{}=@photo.png').",
            part.name, part.name
        ),
        Some(&part.name),
    )
    .with_code("invalid_type"))
}

fn file_from_part(part: FormPart) -> InputFile {
    InputFile::new(part.name, part.filename, part.content_type, part.data)
}

fn too_many_images(got: usize) -> ApiError {
    ApiError::invalid_request(
        format!(
            "Invalid 'image': array too long. Expected an array with maximum length {MAX_IMAGES}, \
             but got an array with length {got} instead."
        ),
        Some("image"),
    )
    .with_code("array_above_max_length")
}

fn duplicate_param(name: &str) -> ApiError {
    ApiError::invalid_request(
        format!("Duplicate parameter: '{name}'. Send it only once."),
        Some(name),
    )
    .with_code("duplicate_parameter")
}

fn utf8_text<'a>(name: &str, data: &'a [u8]) -> Result<&'a str, ApiError> {
    std::str::from_utf8(data).map_err(|_| {
        ApiError::invalid_request(
            format!("Invalid '{name}': the value is not valid UTF-8 text."),
            Some(name),
        )
        .with_code("invalid_encoding")
    })
}

fn text_int(name: &str, t: &str) -> Result<i64, ApiError> {
    t.parse::<i64>().map_err(|_| {
        ApiError::invalid_request(
            format!("Invalid '{name}': expected an integer, but got '{t}' instead."),
            Some(name),
        )
        .with_code("invalid_type")
    })
}

fn text_bool(name: &str, t: &str) -> Result<bool, ApiError> {
    // Lenient: SDKs send `true`/`false`; hand-written forms send `True`, `1`, `0`.
    match t.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::invalid_request(
            format!("Invalid '{name}': expected a boolean, but got '{t}' instead."),
            Some(name),
        )
        .with_code("invalid_type")),
    }
}

fn in_range(name: &str, v: i64, min: i64, max: i64) -> Result<i64, ApiError> {
    if v < min {
        Err(ApiError::integer_below_min(name, min, v))
    } else if v > max {
        Err(ApiError::integer_above_max(name, max, v))
    } else {
        Ok(v)
    }
}

fn check_n(v: i64) -> Result<u32, ApiError> {
    let v = in_range("n", v, 1, 10)?;
    u32::try_from(v).map_err(|_| ApiError::integer_above_max("n", 10, v))
}

fn check_compression(v: i64) -> Result<u8, ApiError> {
    let v = in_range("output_compression", v, 0, 100)?;
    u8::try_from(v).map_err(|_| ApiError::integer_above_max("output_compression", 100, v))
}

fn check_partial_images(v: i64) -> Result<u32, ApiError> {
    let v = in_range("partial_images", v, 0, 3)?;
    u32::try_from(v).map_err(|_| ApiError::integer_above_max("partial_images", 3, v))
}

fn parse_size(t: &str) -> Result<SizeParam, ApiError> {
    SizeParam::parse(t).ok_or_else(|| {
        ApiError::invalid_request(
            format!(
                "Invalid value: '{t}'. Supported values are: 'auto' or a size written as \
                 'WIDTHxHEIGHT', e.g. '1024x1024'."
            ),
            Some("size"),
        )
        .with_code("invalid_value")
    })
}

fn parse_enum<T>(
    name: &str,
    t: &str,
    parse: fn(&str) -> Option<T>,
    values: &[&str],
) -> Result<T, ApiError> {
    parse(t).ok_or_else(|| ApiError::invalid_value(name, t, values))
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_json_type(path: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid_request(
        format!(
            "Invalid type for '{path}': expected {expected}, but got {} instead.",
            json_type_name(got)
        ),
        Some(path),
    )
    .with_code("invalid_type")
}

fn json_string<'a>(path: &str, v: &'a Value) -> Result<&'a str, ApiError> {
    v.as_str()
        .ok_or_else(|| wrong_json_type(path, "a string", v))
}

fn json_int(path: &str, v: &Value) -> Result<i64, ApiError> {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Ok(i),
            // Beyond i64: certainly above every maximum.
            (None, Some(_)) => Ok(i64::MAX),
            (None, None) => Err(wrong_json_type(path, "an integer", v)),
        },
        Value::Null | Value::Bool(_) | Value::String(_) | Value::Array(_) | Value::Object(_) => {
            Err(wrong_json_type(path, "an integer", v))
        }
    }
}

fn json_images(v: &Value, limits: &JsonLimits) -> Result<Vec<InputFile>, ApiError> {
    let Value::Array(items) = v else {
        return Err(wrong_json_type("images", "an array of objects", v));
    };
    if items.is_empty() {
        return Err(ApiError::invalid_request(
            "Invalid 'images': empty array. Expected an array with minimum length 1, but got an \
             empty array instead.",
            Some("images"),
        )
        .with_code("empty_array"));
    }
    if items.len() > MAX_IMAGES {
        return Err(ApiError::invalid_request(
            format!(
                "Invalid 'images': array too long. Expected an array with maximum length \
                 {MAX_IMAGES}, but got an array with length {} instead.",
                items.len()
            ),
            Some("images"),
        )
        .with_code("array_above_max_length"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| json_image_ref(&format!("images[{i}]"), item, limits))
        .collect()
}

/// One `{image_url}` / `{file_id}` object.
fn json_image_ref(path: &str, v: &Value, limits: &JsonLimits) -> Result<InputFile, ApiError> {
    let Value::Object(obj) = v else {
        return Err(wrong_json_type(path, "an object with 'image_url'", v));
    };
    check_ref_keys(path, obj)?;
    let url = obj.get("image_url").filter(|v| !v.is_null());
    let file_id = obj.get("file_id").filter(|v| !v.is_null());
    match (url, file_id) {
        (Some(url), None) => {
            let url_path = format!("{path}.image_url");
            let url = json_string(&url_path, url)?;
            decode_image_url(path, &url_path, url, limits)
        }
        (None, Some(_)) => Err(ApiError::invalid_request(
            "File IDs are not supported; send the image as a data: URL or as multipart/form-data.",
            Some(&format!("{path}.file_id")),
        )
        .with_code("unsupported_value")),
        (Some(_), Some(_)) | (None, None) => Err(ApiError::invalid_request(
            format!("Invalid '{path}': give exactly one of 'image_url' or 'file_id'."),
            Some(path),
        )
        .with_code("invalid_value")),
    }
}

fn check_ref_keys(path: &str, obj: &Map<String, Value>) -> Result<(), ApiError> {
    match obj.keys().find(|k| *k != "image_url" && *k != "file_id") {
        Some(k) => Err(ApiError::unknown_param(&format!("{path}.{k}"))),
        None => Ok(()),
    }
}

/// Decodes a `data:[<media type>][;base64],<data>` URL; remote URLs are refused, never fetched.
fn decode_image_url(
    path: &str,
    url_path: &str,
    url: &str,
    limits: &JsonLimits,
) -> Result<InputFile, ApiError> {
    let chars = url.chars().count();
    if chars > limits.max_image_url_chars {
        return Err(ApiError::string_too_long(
            url_path,
            limits.max_image_url_chars,
            chars,
        ));
    }
    let lower_prefix: String = url.chars().take(8).collect::<String>().to_ascii_lowercase();
    if lower_prefix.starts_with("https://") || lower_prefix.starts_with("http://") {
        return Err(ApiError::invalid_request(
            "Remote image URLs are not supported; send the image as a data: URL or as \
             multipart/form-data.",
            Some(url_path),
        )
        .with_code("unsupported_value"));
    }
    let bad = |why: &str| {
        ApiError::invalid_request(format!("Invalid '{url_path}': {why}"), Some(url_path))
            .with_code("invalid_value")
    };
    if !lower_prefix.starts_with("data:") {
        return Err(bad(
            "expected a data: URL such as 'data:image/png;base64,iVBORw0...'.",
        ));
    }
    let (meta, payload) = url
        .get(5..)
        .and_then(|rest| rest.split_once(','))
        .ok_or_else(|| bad("the data URL has no ',' before its data."))?;
    let mut meta_parts = meta.split(';');
    let media_type = meta_parts
        .next()
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    if !meta_parts.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
        return Err(bad(
            "data URLs must be base64-encoded ('data:image/png;base64,...').",
        ));
    }
    let compact: String;
    let payload = if payload.bytes().any(|b| b.is_ascii_whitespace()) {
        compact = payload
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        compact.as_str()
    } else {
        payload
    };
    if payload.len() / 4 * 3 > limits.max_image_bytes.saturating_add(3) {
        return Err(ApiError::payload_too_large(
            format!(
                "Invalid '{url_path}': the image is larger than {} bytes.",
                limits.max_image_bytes
            ),
            Some(url_path),
        ));
    }
    let data = lenient_base64()
        .decode(payload)
        .or_else(|_| lenient_base64_url().decode(payload))
        .map_err(|_| bad("the data URL is not valid base64."))?;
    Ok(InputFile::new(path, None, media_type, Bytes::from(data)))
}

fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

fn lenient_base64_url() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
