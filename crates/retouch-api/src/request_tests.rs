//! Tests for multipart and JSON parsing: every rule and message in `request.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::*;
use crate::image::ImageFormat;
use crate::testutil::{form_with, gif, mask_part, png_rgba};

fn err(form: EditForm) -> ApiError {
    EditRequest::from_form(form).unwrap_err()
}

fn assert_err(e: &ApiError, status: u16, param: Option<&str>, code: Option<&str>, message: &str) {
    assert_eq!(e.status, status, "{e}");
    assert_eq!(e.param.as_deref(), param, "{e}");
    assert_eq!(e.code.as_deref(), code, "{e}");
    assert_eq!(e.message, message);
    assert_eq!(e.body().error.r#type, "invalid_request_error");
}

#[test]
fn parses_a_full_python_sdk_style_form() {
    let png = png_rgba(8, 8);
    let form = EditForm::new()
        .with(FormPart::text("prompt", "combine"))
        .with(FormPart::text("background", "transparent"))
        .with(FormPart::text("input_fidelity", "high"))
        .with(FormPart::text("model", "gpt-image-1.5"))
        .with(FormPart::text("n", "2"))
        .with(FormPart::text("output_compression", "80"))
        .with(FormPart::text("output_format", "webp"))
        .with(FormPart::text("quality", "high"))
        .with(FormPart::text("size", "1536x1024"))
        .with(FormPart::text("user", "u1"))
        .with(FormPart::text("stream", "true"))
        .with(FormPart::text("partial_images", "2"))
        .with(FormPart::text("moderation", "low"))
        .with(FormPart::text("response_format", "b64_json"))
        .with(FormPart::file(
            "image[]",
            "a.png",
            Some("image/png"),
            png.clone(),
        ))
        .with(FormPart::file(
            "image[]",
            "b.png",
            Some("image/png"),
            png.clone(),
        ))
        .with(mask_part(png));
    let r = EditRequest::from_form(form).unwrap();
    assert_eq!(r.prompt, "combine");
    assert_eq!(r.model.as_deref(), Some("gpt-image-1.5"));
    assert_eq!(r.n, Some(2));
    assert_eq!(r.output_compression, Some(80));
    assert_eq!(r.output_format, Some(OutputFormat::Webp));
    assert_eq!(r.quality, Some(Quality::High));
    assert_eq!(r.background, Some(Background::Transparent));
    assert_eq!(r.input_fidelity, Some(InputFidelity::High));
    assert_eq!(
        r.size,
        Some(SizeParam::Exact {
            width: 1536,
            height: 1024
        })
    );
    assert_eq!(r.user.as_deref(), Some("u1"));
    assert_eq!(r.stream, Some(true));
    assert_eq!(r.partial_images, Some(2));
    assert_eq!(r.moderation, Some(Moderation::Low));
    assert_eq!(r.response_format, Some(ResponseFormat::B64Json));
    assert_eq!(r.images.len(), 2);
    assert_eq!(r.images[1].filename.as_deref(), Some("b.png"));
    assert!(r.mask.is_some());
    assert_eq!(r.encoding, BodyEncoding::Multipart);
    let info = r.images[0].info.unwrap();
    assert_eq!(
        (info.format, info.width, info.height),
        (ImageFormat::Png, 8, 8)
    );
}

#[test]
fn image_array_forms_mix_in_arrival_order_and_files_may_come_first() {
    let png = png_rgba(4, 4);
    let form = EditForm::new()
        .with(FormPart::file("image[]", "1.png", None, png.clone()))
        .with(FormPart::file("image", "2.png", None, png.clone()))
        .with(FormPart::file("image[3]", "3.png", None, png.clone()))
        .with(FormPart::text("prompt", "p"))
        .with(FormPart::file("image[0]", "4.png", None, png));
    let r = EditRequest::from_form(form).unwrap();
    let names: Vec<_> = r
        .images
        .iter()
        .map(|f| f.filename.clone().unwrap())
        .collect();
    assert_eq!(names, ["1.png", "2.png", "3.png", "4.png"]);
    let fields: Vec<_> = r.images.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["image[]", "image", "image[3]", "image[0]"]);
}

#[test]
fn octet_stream_and_unnamed_files_are_sniffed() {
    let png = png_rgba(4, 4);
    let form = EditForm::new()
        .with(FormPart::file(
            "image",
            "upload",
            Some("application/octet-stream"),
            png.clone(),
        ))
        .with(FormPart {
            name: "image[]".into(),
            filename: None,
            content_type: None,
            data: png.clone().into(),
        })
        .with(FormPart {
            name: "mask[]".into(),
            filename: None,
            content_type: Some("application/octet-stream".into()),
            data: b"not an image".to_vec().into(),
        })
        .with(FormPart::text("prompt", "p"));
    let r = EditRequest::from_form(form).unwrap();
    assert!(r.images.iter().all(|f| f.info.is_some()));
    let mask = r.mask.unwrap();
    assert!(
        mask.info.is_none(),
        "not an image: left for the rules to reject"
    );
}

#[test]
fn more_than_sixteen_images_is_refused() {
    let png = png_rgba(2, 2);
    let mut form = EditForm::new().with(FormPart::text("prompt", "p"));
    for _ in 0..17 {
        form = form.with(FormPart::file("image[]", "a.png", None, png.clone()));
    }
    assert_err(
        &err(form),
        400,
        Some("image"),
        Some("array_above_max_length"),
        "Invalid 'image': array too long. Expected an array with maximum length 16, but got an array with length 17 instead.",
    );
}

#[test]
fn missing_and_empty_required_fields() {
    let e = err(EditForm::new().with(FormPart::text("prompt", "p")));
    assert_err(
        &e,
        400,
        Some("image"),
        Some("missing_required_parameter"),
        "Missing required parameter: 'image'.",
    );
    let e = err(EditForm::new());
    assert_eq!(e.param.as_deref(), Some("image"), "image is checked first");
    let e = err(form_with(png_rgba(2, 2), &[]));
    assert_err(
        &e,
        400,
        Some("prompt"),
        Some("missing_required_parameter"),
        "Missing required parameter: 'prompt'.",
    );
    let e = err(form_with(png_rgba(2, 2), &[("prompt", "")]));
    assert_err(
        &e,
        400,
        Some("prompt"),
        Some("empty_string"),
        "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an empty string instead.",
    );
}

#[test]
fn duplicates_are_refused_by_name() {
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("n", "1"), ("n", "2")],
    ));
    assert_err(
        &e,
        400,
        Some("n"),
        Some("duplicate_parameter"),
        "Duplicate parameter: 'n'. Send it only once.",
    );
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("prompt", "b")],
    ));
    assert_eq!(e.param.as_deref(), Some("prompt"));
    let e = err(form_with(png_rgba(2, 2), &[("prompt", "a")])
        .with(mask_part(png_rgba(2, 2)))
        .with(mask_part(png_rgba(2, 2))));
    assert_err(
        &e,
        400,
        Some("mask"),
        Some("duplicate_parameter"),
        "Duplicate parameter: 'mask'. Send it only once.",
    );
}

#[test]
fn integers_are_checked_with_openai_messages() {
    let e = err(form_with(png_rgba(2, 2), &[("prompt", "a"), ("n", "abc")]));
    assert_err(
        &e,
        400,
        Some("n"),
        Some("invalid_type"),
        "Invalid 'n': expected an integer, but got 'abc' instead.",
    );
    let e = err(form_with(png_rgba(2, 2), &[("prompt", "a"), ("n", "11")]));
    assert_err(
        &e,
        400,
        Some("n"),
        Some("integer_above_max_value"),
        "Invalid 'n': integer above maximum value. Expected a value <= 10, but got 11 instead.",
    );
    let e = err(form_with(png_rgba(2, 2), &[("prompt", "a"), ("n", "0")]));
    assert_err(
        &e,
        400,
        Some("n"),
        Some("integer_below_min_value"),
        "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.",
    );
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("output_compression", "101")],
    ));
    assert_eq!(
        e.message,
        "Invalid 'output_compression': integer above maximum value. Expected a value <= 100, but got 101 instead."
    );
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("partial_images", "4")],
    ));
    assert_eq!(e.param.as_deref(), Some("partial_images"));
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("partial_images", "-1")],
    ));
    assert_eq!(e.code.as_deref(), Some("integer_below_min_value"));
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("n", "99999999999999999999")],
    ));
    assert_eq!(e.code.as_deref(), Some("invalid_type"));
    let r = EditRequest::from_form(form_with(png_rgba(2, 2), &[("prompt", "a"), ("n", " 3 ")]))
        .unwrap();
    assert_eq!(r.n, Some(3));
}

#[test]
fn stream_booleans_are_lenient() {
    for (raw, want) in [
        ("true", true),
        ("True", true),
        ("1", true),
        ("false", false),
        ("FALSE", false),
        ("0", false),
    ] {
        let r = EditRequest::from_form(form_with(
            png_rgba(2, 2),
            &[("prompt", "a"), ("stream", raw)],
        ))
        .unwrap();
        assert_eq!(r.stream, Some(want), "{raw}");
    }
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("stream", "yes")],
    ));
    assert_err(
        &e,
        400,
        Some("stream"),
        Some("invalid_type"),
        "Invalid 'stream': expected a boolean, but got 'yes' instead.",
    );
}

#[test]
fn enumerated_values_are_checked() {
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("quality", "ultra")],
    ));
    assert_err(
        &e,
        400,
        Some("quality"),
        Some("invalid_value"),
        "Invalid value: 'ultra'. Supported values are: 'standard', 'low', 'medium', 'high', 'auto', 'xhigh', and 'max'.",
    );
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("response_format", "png")],
    ));
    assert_eq!(
        e.message,
        "Invalid value: 'png'. Supported values are: 'url' and 'b64_json'."
    );
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("size", "big")],
    ));
    assert_err(
        &e,
        400,
        Some("size"),
        Some("invalid_value"),
        "Invalid value: 'big'. Supported values are: 'auto' or a size written as 'WIDTHxHEIGHT', e.g. '1024x1024'.",
    );
    let e = err(form_with(
        png_rgba(2, 2),
        &[("prompt", "a"), ("output_format", "gif")],
    ));
    assert_eq!(e.param.as_deref(), Some("output_format"));
}

#[test]
fn non_utf8_text_names_the_field() {
    let form = form_with(png_rgba(2, 2), &[]).with(FormPart {
        name: "prompt".into(),
        filename: None,
        content_type: None,
        data: vec![0xff, 0xfe, b'a'].into(),
    });
    assert_err(
        &err(form),
        400,
        Some("prompt"),
        Some("invalid_encoding"),
        "Invalid 'prompt': the value is not valid UTF-8 text.",
    );
    let form = form_with(png_rgba(2, 2), &[("prompt", "a")]).with(FormPart {
        name: "custom".into(),
        filename: None,
        content_type: None,
        data: vec![0xc3].into(),
    });
    assert_eq!(err(form).param.as_deref(), Some("custom"));
}

#[test]
fn file_and_text_parts_in_the_wrong_place() {
    let form = form_with(png_rgba(2, 2), &[]).with(FormPart::file(
        "prompt",
        "p.txt",
        Some("text/plain"),
        b"hi".to_vec(),
    ));
    assert_err(
        &err(form),
        400,
        Some("prompt"),
        Some("invalid_type"),
        "Invalid type for 'prompt': expected a string, but got a file instead.",
    );
    let form = EditForm::new()
        .with(FormPart::text("prompt", "p"))
        .with(FormPart::text("image", "https://example.com/a.png"));
    let e = err(form);
    assert_eq!(
        (e.status, e.param.as_deref(), e.code.as_deref()),
        (400, Some("image"), Some("invalid_type"))
    );
    assert!(
        e.message
            .starts_with("Invalid type for 'image': expected a file, but got a string instead.")
    );
    let form = form_with(png_rgba(2, 2), &[("prompt", "a")]).with(FormPart::file(
        "thumbnail",
        "t.png",
        None,
        png_rgba(2, 2),
    ));
    let e = err(form);
    assert_eq!(
        (e.param.as_deref(), e.code.as_deref()),
        (Some("thumbnail"), Some("unknown_parameter"))
    );
    assert!(e.message.starts_with("Unknown parameter: 'thumbnail'."));
}

#[test]
fn unknown_text_fields_pass_through_in_order() {
    let r = EditRequest::from_form(form_with(
        png_rgba(2, 2),
        &[
            ("svg[model]", "m"),
            ("prompt", "a"),
            ("safety_identifier", "s"),
            ("svg[model]", "again"),
        ],
    ))
    .unwrap();
    assert_eq!(
        r.extra,
        vec![
            ("svg[model]".to_owned(), "m".to_owned()),
            ("safety_identifier".to_owned(), "s".to_owned()),
            ("svg[model]".to_owned(), "again".to_owned()),
        ]
    );
}

#[test]
fn unrecognised_image_bytes_still_parse_without_info() {
    let r = EditRequest::from_form(form_with(gif(), &[("prompt", "a")])).unwrap();
    assert!(r.images[0].info.is_none());
}

fn data_url(bytes: &[u8]) -> String {
    format!("data:image/png;base64,{}", STANDARD.encode(bytes))
}

fn json(v: serde_json::Value) -> Result<EditRequest, ApiError> {
    EditRequest::from_json(v.to_string().as_bytes(), &JsonLimits::default())
}

#[test]
fn json_body_with_data_urls() {
    let png = png_rgba(6, 4);
    let r = json(serde_json::json!({
        "images": [{"image_url": data_url(&png)}, {"image_url": format!("data:;base64,{}", URL_SAFE_NO_PAD.encode(&png))}],
        "mask": {"image_url": data_url(&png)},
        "prompt": "fill",
        "model": "gpt-image-1",
        "n": 2,
        "stream": true,
        "partial_images": 1,
        "output_compression": 50,
        "size": "auto",
        "quality": null,
        "custom": {"a": [1, 2]},
        "note": "x"
    }))
    .unwrap();
    assert_eq!(r.encoding, BodyEncoding::Json);
    assert_eq!(r.images.len(), 2);
    assert_eq!(r.images[0].data.as_ref(), png.as_slice());
    assert_eq!(r.images[0].field, "images[0]");
    assert_eq!(r.images[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(r.images[1].content_type, None);
    assert_eq!(r.images[1].info.unwrap().width, 6);
    assert!(r.mask.is_some());
    assert_eq!(
        (r.n, r.stream, r.partial_images, r.output_compression),
        (Some(2), Some(true), Some(1), Some(50))
    );
    assert_eq!(r.size, Some(SizeParam::Auto));
    assert_eq!(r.quality, None, "null means omitted");
    assert!(
        r.extra
            .contains(&("custom".to_owned(), r#"{"a":[1,2]}"#.to_owned()))
    );
    assert!(r.extra.contains(&("note".to_owned(), "\"x\"".to_owned())));
}

#[test]
fn json_body_errors_name_the_path() {
    let png = png_rgba(2, 2);
    let ok_images = serde_json::json!([{"image_url": data_url(&png)}]);
    let e = json(
        serde_json::json!({"images": [{"image_url": "https://example.com/a.png"}], "prompt": "p"}),
    )
    .unwrap_err();
    assert_err(
        &e,
        400,
        Some("images[0].image_url"),
        Some("unsupported_value"),
        "Remote image URLs are not supported; send the image as a data: URL or as multipart/form-data.",
    );
    let e = json(serde_json::json!({"images": [{"image_url": data_url(&png)}, {"file_id": "file-1"}], "prompt": "p"})).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("images[1].file_id"));
    assert_eq!(
        e.message,
        "File IDs are not supported; send the image as a data: URL or as multipart/form-data."
    );
    let e = json(serde_json::json!({"images": [{"image_url": data_url(&png), "file_id": "f"}], "prompt": "p"})).unwrap_err();
    assert_err(
        &e,
        400,
        Some("images[0]"),
        Some("invalid_value"),
        "Invalid 'images[0]': give exactly one of 'image_url' or 'file_id'.",
    );
    let e = json(serde_json::json!({"images": [{"image_url": data_url(&png), "detail": "high"}], "prompt": "p"})).unwrap_err();
    assert_err(
        &e,
        400,
        Some("images[0].detail"),
        Some("unknown_parameter"),
        "Unknown parameter: 'images[0].detail'.",
    );
    let e = json(serde_json::json!({"images": [], "prompt": "p"})).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("empty_array"));
    let many: Vec<_> = (0..17)
        .map(|_| serde_json::json!({"image_url": data_url(&png)}))
        .collect();
    let e = json(serde_json::json!({"images": many, "prompt": "p"})).unwrap_err();
    assert_eq!(
        (e.param.as_deref(), e.code.as_deref()),
        (Some("images"), Some("array_above_max_length"))
    );
    let e = json(serde_json::json!({"images": "data:...", "prompt": "p"})).unwrap_err();
    assert_err(
        &e,
        400,
        Some("images"),
        Some("invalid_type"),
        "Invalid type for 'images': expected an array of objects, but got a string instead.",
    );
    let e = json(serde_json::json!({"images": ok_images.clone(), "prompt": "p", "n": "2"}))
        .unwrap_err();
    assert_err(
        &e,
        400,
        Some("n"),
        Some("invalid_type"),
        "Invalid type for 'n': expected an integer, but got a string instead.",
    );
    let e = json(serde_json::json!({"images": ok_images.clone(), "prompt": "p", "n": 1.5}))
        .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid type for 'n': expected an integer, but got a decimal number instead."
    );
    let e = json(serde_json::json!({"images": ok_images.clone(), "prompt": "p", "stream": "true"}))
        .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid type for 'stream': expected a boolean, but got a string instead."
    );
    let e = json(serde_json::json!({"images": ok_images.clone(), "prompt": 5})).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("prompt"));
    let e =
        json(serde_json::json!({"images": ok_images.clone(), "prompt": "p", "n": 50})).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("integer_above_max_value"));
    let e = json(serde_json::json!({"images": ok_images.clone()})).unwrap_err();
    assert_eq!(e.message, "Missing required parameter: 'prompt'.");
    let e = json(serde_json::json!({"prompt": "p"})).unwrap_err();
    assert_eq!(e.message, "Missing required parameter: 'images'.");
    let e =
        json(serde_json::json!({"images": [{"image_url": "data:image/png,abc"}], "prompt": "p"}))
            .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid 'images[0].image_url': data URLs must be base64-encoded ('data:image/png;base64,...')."
    );
    let e = json(
        serde_json::json!({"images": [{"image_url": "data:image/png;base64,@@@"}], "prompt": "p"}),
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "Invalid 'images[0].image_url': the data URL is not valid base64."
    );
    let e =
        json(serde_json::json!({"images": [{"image_url": "ftp://x"}], "prompt": "p"})).unwrap_err();
    assert!(
        e.message
            .starts_with("Invalid 'images[0].image_url': expected a data: URL")
    );
    let e =
        json(serde_json::json!({"images": ok_images, "prompt": "p", "mask": "data:"})).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("mask"));
    let e = EditRequest::from_json(b"{not json", &JsonLimits::default()).unwrap_err();
    assert_eq!((e.status, e.param.as_deref()), (400, None));
    assert!(
        e.message
            .starts_with("We could not parse the JSON body of your request.")
    );
    let e = EditRequest::from_json(b"[1]", &JsonLimits::default()).unwrap_err();
    assert_eq!(
        e.message,
        "Invalid type for request body: expected an object, but got an array instead."
    );
}

#[test]
fn json_image_url_length_and_size_limits() {
    let png = png_rgba(2, 2);
    let limits = JsonLimits {
        max_image_url_chars: 20,
        max_image_bytes: 1 << 20,
    };
    let body =
        serde_json::json!({"images": [{"image_url": data_url(&png)}], "prompt": "p"}).to_string();
    let e = EditRequest::from_json(body.as_bytes(), &limits).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("string_above_max_length"));
    assert_eq!(e.param.as_deref(), Some("images[0].image_url"));
    let limits = JsonLimits {
        max_image_url_chars: 1 << 20,
        max_image_bytes: 8,
    };
    let e = EditRequest::from_json(body.as_bytes(), &limits).unwrap_err();
    assert_eq!(e.status, 413);
}
