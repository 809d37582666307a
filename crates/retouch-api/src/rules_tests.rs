//! Tests for per-model validation: each rule asserts status, type, param, code and message.

use super::*;
use crate::form::FormPart;
use crate::request::JsonLimits;
use crate::testutil::{
    form_with, gif, jpeg, jpeg_with_orientation, mask_part, png_l, png_la, png_raw, png_rgb,
    png_rgba, webp_rgba,
};

fn req(image: Vec<u8>, fields: &[(&str, &str)]) -> EditRequest {
    let mut all = vec![("prompt", "fill it")];
    all.extend_from_slice(fields);
    EditRequest::from_form(form_with(image, &all)).unwrap()
}

fn with_mask(mut r: EditRequest, mask: Vec<u8>) -> EditRequest {
    let part = mask_part(mask);
    r.mask = Some(InputFile::new(
        "mask",
        part.filename,
        part.content_type,
        part.data,
    ));
    r
}

fn check(e: &ApiError, ty: &str, param: Option<&str>, code: Option<&str>, message: &str) {
    assert_eq!(e.status, 400, "{e}");
    assert_eq!(e.body().error.r#type, ty, "{e}");
    assert_eq!(e.param.as_deref(), param, "{e}");
    assert_eq!(e.code.as_deref(), code, "{e}");
    assert_eq!(e.message, message);
}

const IRE: &str = "invalid_request_error";
const IGU: &str = "image_generation_user_error";

fn dalle(image: Vec<u8>, fields: &[(&str, &str)]) -> Result<ValidatedEdit, ApiError> {
    ModelRules::DallE2.validate(&req(image, fields))
}

fn gpt(model: &str, image: Vec<u8>, fields: &[(&str, &str)]) -> Result<ValidatedEdit, ApiError> {
    let mut f = vec![("model", model)];
    f.extend_from_slice(fields);
    ModelRules::for_model(model).validate(&req(image, &f))
}

fn local(image: Vec<u8>, fields: &[(&str, &str)]) -> Result<ValidatedEdit, ApiError> {
    ModelRules::local(DEFAULT_MAX_PIXELS).validate(&req(image, fields))
}

#[test]
fn model_names_map_to_rules() {
    use GptImageModel as G;
    let cases = [
        ("dall-e-2", ModelRules::DallE2),
        ("gpt-image-1", ModelRules::GptImage(G::Gpt1)),
        ("gpt-image-1-mini", ModelRules::GptImage(G::Gpt1Mini)),
        ("gpt-image-1.5", ModelRules::GptImage(G::Gpt15)),
        (
            "chatgpt-image-latest",
            ModelRules::GptImage(G::ChatGptLatest),
        ),
        ("gpt-image-2", ModelRules::GptImage(G::Gpt2)),
        ("gpt-image-2-2026-04-21", ModelRules::GptImage(G::Gpt2)),
        ("gpt-image-2.5-sunburst", ModelRules::GptImage(G::Gpt25)),
        (
            "gpt-image-2.5-flare-2026-09-08",
            ModelRules::GptImage(G::Gpt25),
        ),
        ("gpt-image-2.6-flare", ModelRules::GptImage(G::Gpt26)),
        (
            "retouch-fill",
            ModelRules::RetouchFill {
                max_pixels: DEFAULT_MAX_PIXELS,
            },
        ),
        ("flux-kontext", ModelRules::Passthrough),
        ("dall-e-3", ModelRules::Passthrough),
    ];
    for (name, want) in cases {
        assert_eq!(ModelRules::for_model(name), want, "{name}");
    }
    let r = req(png_rgba(4, 4), &[]);
    assert_eq!(
        ModelRules::for_request(&r),
        ModelRules::GptImage(G::Gpt15),
        "spec default model"
    );
}

#[test]
fn dalle2_defaults() {
    let v = dalle(png_rgba(8, 8), &[]).unwrap();
    assert_eq!(v.response_format, ResponseFormat::Url);
    assert_eq!(v.size, Some((1024, 1024)));
    assert_eq!(
        (v.quality, v.gpt_style, v.n, v.stream),
        (Quality::Standard, false, 1, false)
    );
    let v = dalle(
        png_rgba(8, 8),
        &[
            ("size", "256x256"),
            ("response_format", "b64_json"),
            ("n", "10"),
            ("stream", "false"),
        ],
    )
    .unwrap();
    assert_eq!(
        (v.size, v.response_format, v.n),
        (Some((256, 256)), ResponseFormat::B64Json, 10)
    );
    assert!(dalle(png_la(4, 4), &[]).is_ok());
    assert!(dalle(png_l(4, 4), &[]).is_ok());
}

#[test]
fn dalle2_image_rules() {
    let e = dalle(png_rgb(8, 8), &[]).unwrap_err();
    check(
        &e,
        IRE,
        Some("image"),
        None,
        "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got RGB.",
    );
    assert!(
        ModelRules::DallE2
            .validate(&with_mask(req(png_rgb(8, 8), &[]), png_rgba(8, 8)))
            .is_ok(),
        "RGB is fine with a mask"
    );
    let pal = png_raw(
        2,
        2,
        png::ColorType::Indexed,
        png::BitDepth::Eight,
        Some((&[0, 0, 0], &[0])),
        &[0, 0, 0, 0],
    );
    assert_eq!(
        dalle(pal, &[]).unwrap_err().message,
        "Invalid input image - format must be in ['RGBA', 'LA', 'L'], got P."
    );
    let e = dalle(png_rgba(8, 6), &[]).unwrap_err();
    check(
        &e,
        IRE,
        Some("image"),
        None,
        "Invalid input image - expected an image with equal width and height, got 8x6 instead.",
    );
    let e = dalle(jpeg(8, 8), &[]).unwrap_err();
    check(
        &e,
        IRE,
        Some("image"),
        Some("invalid_image_format"),
        "Uploaded image must be a PNG and less than 4 MB.",
    );
    let noisy: Vec<u8> = {
        let mut s = 0x1234_5678u32;
        (0..1100 * 1100 * 4)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 24) as u8
            })
            .collect()
    };
    let big = crate::image::encode(&noisy, 1100, 1100, OutputFormat::Png, None).unwrap();
    assert!(
        big.len() >= DALLE2_MAX_FILE_BYTES,
        "fixture must exceed 4 MB: {}",
        big.len()
    );
    assert_eq!(
        dalle(big, &[]).unwrap_err().message,
        "Uploaded image must be a PNG and less than 4 MB."
    );
    let two = EditRequest::from_form(
        form_with(png_rgba(4, 4), &[("prompt", "p")]).with(FormPart::file(
            "image[]",
            "b.png",
            None,
            png_rgba(4, 4),
        )),
    )
    .unwrap();
    let e = ModelRules::DallE2.validate(&two).unwrap_err();
    check(
        &e,
        IRE,
        Some("image"),
        Some("array_above_max_length"),
        "Invalid 'image': array too long. Expected an array with maximum length 1, but got an array with length 2 instead.",
    );
}

#[test]
fn dalle2_mask_rules() {
    let e = ModelRules::DallE2
        .validate(&with_mask(req(png_rgba(8, 8), &[]), png_rgba(4, 4)))
        .unwrap_err();
    check(
        &e,
        IRE,
        Some("mask"),
        Some("invalid_value"),
        "Invalid mask image - mask size 4x4 must match image size 8x8.",
    );
    let e = ModelRules::DallE2
        .validate(&with_mask(req(png_rgba(8, 8), &[]), png_rgb(8, 8)))
        .unwrap_err();
    check(
        &e,
        IRE,
        Some("mask"),
        None,
        "Invalid mask image - format must be in ['RGBA', 'LA', 'L'], got RGB.",
    );
    let e = ModelRules::DallE2
        .validate(&with_mask(req(png_rgba(8, 8), &[]), webp_rgba(8, 8)))
        .unwrap_err();
    check(
        &e,
        IRE,
        Some("mask"),
        Some("invalid_image_format"),
        "Uploaded image must be a PNG and less than 4 MB.",
    );
}

#[test]
fn dalle2_parameter_rules() {
    let long = "x".repeat(1001);
    let e = ModelRules::DallE2
        .validate(&EditRequest {
            prompt: long,
            ..req(png_rgba(4, 4), &[])
        })
        .unwrap_err();
    check(
        &e,
        IRE,
        Some("prompt"),
        Some("string_above_max_length"),
        "Invalid 'prompt': string too long. Expected a string with maximum length 1000, but got a string with length 1001 instead.",
    );
    let e = dalle(png_rgba(4, 4), &[("size", "1536x1024")]).unwrap_err();
    check(
        &e,
        IRE,
        Some("size"),
        Some("invalid_value"),
        "Invalid value: '1536x1024'. Supported values are: '256x256', '512x512', and '1024x1024'.",
    );
    assert_eq!(
        dalle(png_rgba(4, 4), &[("size", "auto")])
            .unwrap_err()
            .message,
        "Invalid value: 'auto'. Supported values are: '256x256', '512x512', and '1024x1024'."
    );
    let e = dalle(png_rgba(4, 4), &[("quality", "high")]).unwrap_err();
    check(
        &e,
        IRE,
        Some("quality"),
        Some("invalid_value"),
        "Invalid value: 'high'. Supported values are: 'standard'.",
    );
    for (field, value) in [
        ("background", "opaque"),
        ("output_format", "png"),
        ("output_compression", "50"),
        ("input_fidelity", "low"),
        ("stream", "true"),
        ("partial_images", "1"),
        ("moderation", "auto"),
    ] {
        let e = dalle(png_rgba(4, 4), &[("model", "dall-e-2"), (field, value)]).unwrap_err();
        check(
            &e,
            IRE,
            Some(field),
            Some("unsupported_parameter"),
            &format!("The model 'dall-e-2' does not support the '{field}' parameter."),
        );
    }
    let body = serde_json::json!({"model":"dall-e-2","prompt":"p","images":[{"image_url": format!("data:image/png;base64,{}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png_rgba(4, 4)))}]});
    let r = EditRequest::from_json(body.to_string().as_bytes(), &JsonLimits::default()).unwrap();
    let e = ModelRules::DallE2.validate(&r).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("unsupported_content_type"));
}

#[test]
fn gpt_defaults_and_resolution() {
    let v = gpt("gpt-image-1", png_rgba(8, 8), &[]).unwrap();
    assert_eq!(v.model, "gpt-image-1");
    assert_eq!(
        (v.response_format, v.size, v.output_format),
        (ResponseFormat::B64Json, None, OutputFormat::Png)
    );
    assert_eq!(
        (v.quality, v.background, v.gpt_style, v.partial_images),
        (Quality::High, Background::Opaque, true, 0)
    );
    assert_eq!(v.input_size, Some((8, 8)));
    let v = gpt(
        "gpt-image-1.5",
        png_rgba(8, 8),
        &[
            ("size", "1536x1024"),
            ("quality", "low"),
            ("stream", "true"),
            ("partial_images", "3"),
            ("output_format", "webp"),
            ("output_compression", "70"),
            ("background", "transparent"),
        ],
    )
    .unwrap();
    assert_eq!(
        (v.size, v.quality, v.stream, v.partial_images),
        (Some((1536, 1024)), Quality::Low, true, 3)
    );
    assert_eq!(
        (v.output_format, v.output_compression, v.background),
        (OutputFormat::Webp, Some(70), Background::Transparent)
    );
    assert_eq!(
        gpt("gpt-image-1", png_rgba(8, 8), &[("size", "auto")])
            .unwrap()
            .size,
        None
    );
    // auto background: transparent only with alpha in, a separate mask, and an alpha-capable format.
    let r = with_mask(
        req(png_rgba(8, 8), &[("model", "gpt-image-1")]),
        png_rgba(8, 8),
    );
    assert_eq!(
        ModelRules::for_model("gpt-image-1")
            .validate(&r)
            .unwrap()
            .background,
        Background::Transparent
    );
    let r = with_mask(
        req(
            png_rgba(8, 8),
            &[("model", "gpt-image-1"), ("output_format", "jpeg")],
        ),
        png_rgba(8, 8),
    );
    assert_eq!(
        ModelRules::for_model("gpt-image-1")
            .validate(&r)
            .unwrap()
            .background,
        Background::Opaque
    );
    assert!(gpt("gpt-image-1", jpeg(8, 8), &[]).is_ok());
    assert!(gpt("gpt-image-1", webp_rgba(8, 8), &[]).is_ok());
}

#[test]
fn gpt_parameter_rules() {
    let e = gpt(
        "gpt-image-1",
        png_rgba(8, 8),
        &[("response_format", "b64_json")],
    )
    .unwrap_err();
    check(
        &e,
        IRE,
        Some("response_format"),
        Some("unknown_parameter"),
        "Unknown parameter: 'response_format'.",
    );
    let e = gpt("gpt-image-1", png_rgba(8, 8), &[("size", "512x512")]).unwrap_err();
    check(
        &e,
        IRE,
        Some("size"),
        Some("invalid_value"),
        "Invalid value: '512x512'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.",
    );
    let e = gpt("gpt-image-1", png_rgba(8, 8), &[("quality", "standard")]).unwrap_err();
    check(
        &e,
        IRE,
        Some("quality"),
        Some("invalid_value"),
        "Invalid value: 'standard'. Supported values are: 'low', 'medium', 'high', and 'auto'.",
    );
    assert!(gpt("gpt-image-1", png_rgba(8, 8), &[("quality", "xhigh")]).is_err());
    assert_eq!(
        gpt(
            "gpt-image-2.5-sunburst",
            png_rgba(8, 8),
            &[("quality", "max")]
        )
        .unwrap()
        .quality,
        Quality::Max
    );
    let e = gpt(
        "gpt-image-1",
        png_rgba(8, 8),
        &[("background", "transparent"), ("output_format", "jpeg")],
    )
    .unwrap_err();
    check(
        &e,
        IRE,
        Some("background"),
        Some("invalid_value"),
        "Transparent background is not supported for JPEG output format",
    );
    let e = gpt(
        "gpt-image-2",
        png_rgba(8, 8),
        &[("background", "transparent")],
    )
    .unwrap_err();
    check(
        &e,
        IRE,
        Some("background"),
        Some("invalid_value"),
        "Transparent background is not supported for this model.",
    );
    let e = gpt(
        "gpt-image-1",
        png_rgba(8, 8),
        &[("output_compression", "80")],
    )
    .unwrap_err();
    assert_eq!(
        (e.param.as_deref(), e.code.as_deref()),
        (Some("output_compression"), Some("invalid_value"))
    );
    assert!(
        gpt(
            "gpt-image-1",
            png_rgba(8, 8),
            &[("output_compression", "100")]
        )
        .is_ok()
    );
    assert!(
        gpt(
            "gpt-image-1",
            png_rgba(8, 8),
            &[("output_compression", "80"), ("output_format", "jpeg")]
        )
        .is_ok()
    );
    let e = gpt("gpt-image-2", png_rgba(8, 8), &[("input_fidelity", "high")]).unwrap_err();
    check(
        &e,
        IRE,
        Some("input_fidelity"),
        Some("invalid_input_fidelity_model"),
        "The model 'gpt-image-2' does not support the 'input_fidelity' parameter.",
    );
    let e = gpt(
        "gpt-image-2-2026-04-21",
        png_rgba(8, 8),
        &[("input_fidelity", "low")],
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "The model 'gpt-image-2-2026-04-21' does not support the 'input_fidelity' parameter."
    );
    let e = gpt(
        "gpt-image-1-mini",
        png_rgba(8, 8),
        &[("input_fidelity", "high")],
    )
    .unwrap_err();
    check(
        &e,
        IRE,
        Some("input_fidelity"),
        Some("invalid_value"),
        "Invalid value: 'high'. Supported values are: 'low'.",
    );
    assert!(
        gpt(
            "gpt-image-1-mini",
            png_rgba(8, 8),
            &[("input_fidelity", "low")]
        )
        .is_ok()
    );
    assert!(gpt("gpt-image-1", png_rgba(8, 8), &[("input_fidelity", "high")]).is_ok());
    let long = "x".repeat(32001);
    let r = EditRequest {
        prompt: long,
        ..req(png_rgba(4, 4), &[("model", "gpt-image-1")])
    };
    let e = ModelRules::for_model("gpt-image-1")
        .validate(&r)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid 'prompt': string too long. Expected a string with maximum length 32000, but got a string with length 32001 instead."
    );
}

#[test]
fn gpt_image_2_free_form_sizes() {
    let ok = gpt("gpt-image-2", png_rgba(8, 8), &[("size", "2048x1152")]).unwrap();
    assert_eq!(ok.size, Some((2048, 1152)));
    assert!(gpt("gpt-image-2", png_rgba(8, 8), &[("size", "3840x2160")]).is_ok());
    let cases = [
        (
            "4096x4096",
            "Invalid size '4096x4096'. The longest edge must be less than or equal to 3840.",
        ),
        (
            "576x1024",
            "Invalid size '576x1024'. Requested resolution is below the current minimum pixel budget.",
        ),
        (
            "1000x1008",
            "Invalid size '1000x1008'. Width and height must both be multiples of 16.",
        ),
        (
            "3840x1024",
            "Invalid size '3840x1024'. The aspect ratio must be between 1:3 and 3:1.",
        ),
        (
            "3840x2400",
            "Invalid size '3840x2400'. Requested resolution is above the current maximum pixel budget.",
        ),
    ];
    for (size, message) in cases {
        let e = gpt("gpt-image-2", png_rgba(8, 8), &[("size", size)]).unwrap_err();
        check(&e, IGU, Some("size"), Some("invalid_value"), message);
    }
}

#[test]
fn gpt_image_file_rules() {
    let r = EditRequest::from_form(
        form_with(png_rgba(8, 8), &[("prompt", "p"), ("model", "gpt-image-1")])
            .with(FormPart::file("image[]", "b.gif", Some("image/gif"), gif())),
    )
    .unwrap();
    let e = ModelRules::for_model("gpt-image-1")
        .validate(&r)
        .unwrap_err();
    check(
        &e,
        IGU,
        Some("image"),
        Some("invalid_image_file"),
        "Invalid image file or mode for image 2, please check your image file.",
    );
    let e = gpt("gpt-image-1", b"garbage".to_vec(), &[]).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid image file or mode for image 1, please check your image file."
    );
    let r = with_mask(
        req(png_rgba(8, 8), &[("model", "gpt-image-1")]),
        png_rgb(8, 8),
    );
    let e = ModelRules::for_model("gpt-image-1")
        .validate(&r)
        .unwrap_err();
    check(
        &e,
        IGU,
        Some("mask"),
        Some("invalid_image_file"),
        "Invalid mask image - the mask has no alpha channel. Its fully transparent pixels (alpha = 0) mark the area to edit; send it as a PNG or WebP with transparency.",
    );
    let r = with_mask(
        req(png_rgba(8, 8), &[("model", "gpt-image-1")]),
        png_rgba(8, 4),
    );
    let e = ModelRules::for_model("gpt-image-1")
        .validate(&r)
        .unwrap_err();
    check(
        &e,
        IRE,
        Some("mask"),
        Some("invalid_value"),
        "Invalid mask image - mask size 8x4 must match image size 8x8.",
    );
}

#[test]
fn local_engine_accepts_the_union() {
    let v = local(png_rgba(8, 6), &[]).unwrap();
    assert_eq!(
        (v.response_format, v.size, v.gpt_style, v.model.as_str()),
        (ResponseFormat::B64Json, None, true, DEFAULT_MODEL)
    );
    assert_eq!(v.input_size, Some((8, 6)));
    let v = local(
        png_rgba(8, 6),
        &[
            ("model", "dall-e-2"),
            ("stream", "true"),
            ("output_format", "webp"),
        ],
    )
    .unwrap();
    assert_eq!(
        (v.response_format, v.gpt_style, v.stream),
        (ResponseFormat::Url, false, true)
    );
    let v = local(
        png_rgba(8, 6),
        &[
            ("model", "gpt-image-1"),
            ("response_format", "url"),
            ("size", "2000x300"),
            ("quality", "standard"),
        ],
    )
    .unwrap();
    assert_eq!(
        (v.response_format, v.size, v.quality),
        (ResponseFormat::Url, Some((2000, 300)), Quality::Standard)
    );
    assert!(
        local(
            webp_rgba(8, 8),
            &[("input_fidelity", "high"), ("moderation", "low")]
        )
        .is_ok()
    );
    let opaque_jpeg_with_mask = with_mask(req(jpeg(8, 8), &[]), png_rgba(8, 8));
    assert!(
        ModelRules::local(DEFAULT_MAX_PIXELS)
            .validate(&opaque_jpeg_with_mask)
            .is_ok()
    );
    let passthrough = ModelRules::Passthrough
        .validate(&req(b"anything".to_vec(), &[("size", "7x9")]))
        .unwrap();
    assert_eq!(
        (passthrough.size, passthrough.gpt_style),
        (Some((7, 9)), false)
    );
}

#[test]
fn local_engine_limits_and_messages() {
    let rules = ModelRules::local(100);
    let e = rules.validate(&req(png_rgba(20, 20), &[])).unwrap_err();
    check(
        &e,
        IRE,
        Some("image"),
        Some("image_too_large"),
        "Invalid input image - image is 20x20 pixels (400 pixels); the maximum is 100 pixels. Resize it and try again.",
    );
    let e = rules
        .validate(&req(png_rgba(10, 10), &[("size", "11x10")]))
        .unwrap_err();
    check(
        &e,
        IRE,
        Some("size"),
        Some("invalid_value"),
        "Invalid size '11x10'. The local engine produces at most 100 pixels per image; ask for a smaller size.",
    );
    let e = local(png_rgb(8, 8), &[]).unwrap_err();
    assert_eq!(
        (e.param.as_deref(), e.code.as_deref()),
        (Some("image"), Some("invalid_image_file"))
    );
    assert!(e.message.starts_with(
        "Invalid input image - the image has no transparent pixels and no mask was given"
    ));
    let e = local(gif(), &[]).unwrap_err();
    check(
        &e,
        IGU,
        Some("image"),
        Some("invalid_image_file"),
        "Invalid input image - the image is a GIF file; supported formats are PNG, JPEG and WebP.",
    );
    let e = local(b"hello".to_vec(), &[]).unwrap_err();
    check(
        &e,
        IGU,
        Some("image"),
        Some("invalid_image_file"),
        "Invalid input image - the image is not a PNG, JPEG or WebP file.",
    );
    let mut cut = png_rgba(8, 8);
    cut.truncate(24);
    let e = local(cut, &[]).unwrap_err();
    assert!(
        e.message
            .starts_with("Invalid input image - the image could not be read ("),
        "{}",
        e.message
    );
    let e = local(
        png_rgba(8, 8),
        &[("background", "transparent"), ("output_format", "jpeg")],
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "Transparent background is not supported for JPEG output format"
    );
    let second_bad = EditRequest::from_form(
        form_with(png_rgba(8, 8), &[("prompt", "p")]).with(FormPart::file(
            "image[]",
            "b",
            None,
            gif(),
        )),
    )
    .unwrap();
    let e = ModelRules::local(DEFAULT_MAX_PIXELS)
        .validate(&second_bad)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid input image - image 2 is a GIF file; supported formats are PNG, JPEG and WebP."
    );
}

#[test]
fn local_mask_matches_oriented_image() {
    // Stored 16x8 with orientation 6: a person sees 8x16, and the mask must match that.
    let rotated = jpeg_with_orientation(16, 8, 6);
    let ok = with_mask(req(rotated.clone(), &[]), png_rgba(8, 16));
    assert!(ModelRules::local(DEFAULT_MAX_PIXELS).validate(&ok).is_ok());
    let bad = with_mask(req(rotated, &[]), png_rgba(16, 8));
    let e = ModelRules::local(DEFAULT_MAX_PIXELS)
        .validate(&bad)
        .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid mask image - mask size 16x8 must match image size 8x16."
    );
    let e = ModelRules::local(DEFAULT_MAX_PIXELS)
        .validate(&with_mask(req(png_rgba(8, 8), &[]), gif()))
        .unwrap_err();
    check(
        &e,
        IGU,
        Some("mask"),
        Some("invalid_image_file"),
        "Invalid mask image - the mask is a GIF file; supported formats are PNG, JPEG and WebP.",
    );
}

#[test]
fn image_errors_map_per_model() {
    let too_big = ImageError::TooLarge {
        width: 100_000,
        height: 100_000,
        limit: 16_777_216,
    };
    let e = too_big.into_api("image", 1, &ModelRules::local(16_777_216));
    assert_eq!(
        e.message,
        "Invalid input image - image is 100000x100000 pixels (10000000000 pixels); the maximum is 16777216 pixels. Resize it and try again."
    );
    let e = too_big.into_api("mask", 1, &ModelRules::Passthrough);
    assert!(
        e.message
            .starts_with("Invalid mask image - mask is 100000x100000 pixels")
    );
    let e = ImageError::Corrupt("x".into()).into_api(
        "image",
        3,
        &ModelRules::GptImage(GptImageModel::Gpt1),
    );
    check(
        &e,
        IGU,
        Some("image"),
        Some("invalid_image_file"),
        "Invalid image file or mode for image 3, please check your image file.",
    );
    let e = ImageError::Unsupported(SniffedFormat::Gif).into_api("image", 1, &ModelRules::DallE2);
    assert_eq!(
        e.message,
        "Uploaded image must be a PNG and less than 4 MB."
    );
    let e = ImageError::Encode("boom".into()).into_api("image", 1, &ModelRules::DallE2);
    assert_eq!(e.status, 500);
}
