//! What each adapter does beyond the shared suite: byte-exact forwarding, URL styles, erase,
//! content filters, grids, text-only answers, seeds, downloads, streaming, overrides.

use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::header::{HeaderName, HeaderValue};
use retouch_api::{EditForm, FormPart};
use retouch_gateway::{AzureApi, AzureSettings, Provider, ProviderImage, ProviderOutput, Secret};
use retouch_test_support::fixtures::{b64_bytes, photo_png, png_with, sha256_hex};
use retouch_test_support::{MockKind, MockOptions, MockUpstream, Reply};
use url::Url;

use crate::common::{SIDE, client, form, images, parse, setup, target};

#[tokio::test]
async fn openai_forwards_files_unchanged_with_image_array_and_extra_fields() {
    let (mock, mut target) = setup(Provider::OpenAi).await;
    let first = photo_png(SIDE, SIDE);
    let second = png_with(SIDE, SIDE, |x, _| [x as u8, 1, 2, 255]);
    let form = EditForm::new()
        .with(FormPart::file(
            "image[]",
            "first photo.png",
            Some("image/png"),
            first.clone(),
        ))
        .with(FormPart::file(
            "image[]",
            "second.png",
            Some("image/png"),
            second.clone(),
        ))
        .with(FormPart::text("prompt", "merge them"))
        .with(FormPart::text("model", "gpt-image-1"))
        .with(FormPart::text("quality", "low"))
        .with(FormPart::text("custom_field", "kept"));
    let (request, edit) = parse(form);
    target
        .override_params
        .insert("quality".to_owned(), serde_json::json!("high"));
    target.forward_headers = vec![
        (
            HeaderName::from_static("x-trace-me"),
            HeaderValue::from_static("yes"),
        ),
        (
            HeaderName::from_static("authorization"),
            HeaderValue::from_static("Bearer stolen"),
        ),
    ];
    let out = images(
        Provider::OpenAi
            .edit(&request, &edit, &target, &client())
            .await
            .expect("edit"),
    );
    assert_eq!(
        out.upstream_request_id
            .as_deref()
            .map(|id| id.starts_with("req_mock_")),
        Some(true)
    );
    assert_eq!(out.size.as_deref(), Some("1024x1024"));
    assert!(out.usage.is_some());
    let sent = &mock.requests()[0];
    let parts = sent.parts_named("image[]");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].sha256, sha256_hex(&first));
    assert_eq!(parts[1].sha256, sha256_hex(&second));
    assert_eq!(parts[0].filename.as_deref(), Some("first photo.png"));
    assert_eq!(sent.field("custom_field").as_deref(), Some("kept"));
    assert_eq!(
        sent.field("quality").as_deref(),
        Some("high"),
        "override_params win"
    );
    assert_eq!(sent.parts_named("quality").len(), 1);
    assert_eq!(sent.field("model").as_deref(), Some("gpt-image-1"));
    assert_eq!(sent.header("x-trace-me"), Some("yes"));
    let key = mock.api_key().expect("key");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {key}").as_str()),
        "forwarded auth ignored"
    );
}

#[tokio::test]
async fn openai_url_results_download_within_bounds() {
    let (_mock, target) = setup(Provider::OpenAi).await;
    let (request, edit) = parse(form(2).with(FormPart::text("response_format", "url")));
    let out = images(
        Provider::OpenAi
            .edit(&request, &edit, &target, &client())
            .await
            .expect("edit"),
    );
    let ProviderImage::Url(url) = &out.images[0] else {
        panic!("expected a URL")
    };
    assert!(url.starts_with("http://127.0.0.1:"));
    let bytes = client()
        .image_bytes("openai", &out.images[0])
        .await
        .expect("download");
    assert!(image::load_from_memory(&bytes).is_ok());
    let tiny = retouch_gateway::UpstreamClient::new(retouch_gateway::UpstreamConfig {
        max_download_bytes: 16,
        ..retouch_gateway::UpstreamConfig::default()
    })
    .expect("client");
    let error = tiny
        .image_bytes("openai", &out.images[1])
        .await
        .expect_err("too large");
    assert_eq!(error.status, 502);
}

#[tokio::test]
async fn openai_stream_passes_sse_through() {
    let (_mock, target) = setup(Provider::OpenAi).await;
    let form = form(1)
        .with(FormPart::text("stream", "true"))
        .with(FormPart::text("partial_images", "1"));
    let (request, edit) = parse(form);
    let output = Provider::OpenAi
        .edit(&request, &edit, &target, &client())
        .await
        .expect("edit");
    let ProviderOutput::Stream(mut stream) = output else {
        panic!("expected a stream")
    };
    assert_eq!(stream.content_type, "text/event-stream");
    assert!(stream.upstream_request_id.is_some());
    let mut text = Vec::new();
    while let Some(chunk) = stream.body.next().await {
        text.extend_from_slice(&chunk.expect("chunk"));
    }
    let text = String::from_utf8(text).expect("utf-8");
    assert!(text.contains("event: image_edit.partial_image"));
    assert!(text.contains("event: image_edit.completed"));
}

#[tokio::test]
async fn azure_builds_deployment_and_v1_urls() {
    let (mock, mut target) = setup(Provider::AzureOpenAi).await;
    let (request, edit) = parse(form(1));
    Provider::AzureOpenAi
        .edit(&request, &edit, &target, &client())
        .await
        .expect("deployment URL");
    target.azure = Some(AzureSettings {
        resource: None,
        api: AzureApi::V1 {
            api_version: "preview".to_owned(),
        },
        entra_token: false,
    });
    target.model = Some("my-gpt-image-deployment".to_owned());
    Provider::AzureOpenAi
        .edit(&request, &edit, &target, &client())
        .await
        .expect("v1 URL");
    let calls = mock.requests();
    assert_eq!(
        calls[0].path,
        "/openai/deployments/gpt-image-1/images/edits"
    );
    assert_eq!(
        calls[0].query_param("api-version").as_deref(),
        Some("2025-04-01-preview")
    );
    assert_eq!(calls[1].path, "/openai/v1/images/edits");
    assert_eq!(
        calls[1].query_param("api-version").as_deref(),
        Some("preview")
    );
    assert_eq!(
        calls[1].field("model").as_deref(),
        Some("my-gpt-image-deployment")
    );
}

#[tokio::test]
async fn azure_without_settings_is_a_clear_400() {
    let (mock, mut target) = setup(Provider::AzureOpenAi).await;
    target.azure = None;
    let (request, edit) = parse(form(1));
    let error = Provider::AzureOpenAi
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("400");
    assert_eq!(error.status, 400);
    assert_eq!(mock.edit_calls(), 0);
}

#[tokio::test]
async fn stability_erases_on_an_empty_prompt_and_inpaints_otherwise() {
    let (mock, target) = setup(Provider::StabilityAi).await;
    let (mut request, edit) = parse(form(1));
    Provider::StabilityAi
        .edit(&request, &edit, &target, &client())
        .await
        .expect("inpaint");
    request.prompt = "   ".to_owned();
    Provider::StabilityAi
        .edit(&request, &edit, &target, &client())
        .await
        .expect("erase");
    let calls = mock.requests();
    assert_eq!(calls[0].path, "/v2beta/stable-image/edit/inpaint");
    assert_eq!(calls[0].field("prompt").as_deref(), Some("a red balloon"));
    assert_eq!(calls[0].header("accept"), Some("application/json"));
    assert_eq!(calls[1].path, "/v2beta/stable-image/edit/erase");
    assert!(calls[1].field("prompt").is_none());
}

#[tokio::test]
async fn stability_without_a_mask_lets_the_image_alpha_speak() {
    let (mock, target) = setup(Provider::StabilityAi).await;
    let form = EditForm::new()
        .with(FormPart::file(
            "image",
            "photo.png",
            Some("image/png"),
            photo_png(SIDE, SIDE),
        ))
        .with(FormPart::text("prompt", "sky"))
        .with(FormPart::text("model", "test-model"));
    let (request, edit) = parse(form);
    Provider::StabilityAi
        .edit(&request, &edit, &target, &client())
        .await
        .expect("edit");
    let sent = &mock.requests()[0];
    assert!(sent.part("mask").is_none());
    assert_eq!(
        sent.part("image").map(|p| p.sha256.clone()),
        Some(sha256_hex(&photo_png(SIDE, SIDE)))
    );
}

#[tokio::test]
async fn content_filters_become_content_policy_errors() {
    for provider in [Provider::StabilityAi, Provider::Gemini] {
        let (mock, target) = setup(provider).await;
        mock.script([Reply::ContentFiltered]);
        let (request, edit) = parse(form(1));
        let error = provider
            .edit(&request, &edit, &target, &client())
            .await
            .expect_err("filtered");
        assert_eq!(error.status, 400, "{provider}");
        assert_eq!(
            error.code.as_deref(),
            Some("content_policy_violation"),
            "{provider}"
        );
        assert!(!error.retryable);
    }
}

#[tokio::test]
async fn stability_fan_out_uses_distinct_seeds_from_the_callers_seed() {
    let (mock, target) = setup(Provider::StabilityAi).await;
    let (request, edit) = parse(form(3).with(FormPart::text("seed", "100")));
    Provider::StabilityAi
        .edit(&request, &edit, &target, &client())
        .await
        .expect("edit");
    let mut seeds: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.field("seed"))
        .collect();
    seeds.sort();
    assert_eq!(seeds, ["100", "101", "102"]);
}

#[tokio::test]
async fn a1111_drops_a_grid_that_arrives_anyway() {
    let (mock, target) = setup(Provider::A1111).await;
    mock.script([Reply::SucceedWithGrid]);
    let (request, edit) = parse(form(2));
    let out = images(
        Provider::A1111
            .edit(&request, &edit, &target, &client())
            .await
            .expect("edit"),
    );
    assert_eq!(out.images.len(), 2);
    for image in &out.images {
        let ProviderImage::Bytes { data, .. } = image else {
            panic!("bytes")
        };
        let decoded = image::load_from_memory(data).expect("decodes").to_rgba8();
        assert_ne!(
            decoded.get_pixel(0, 0).0,
            [255, 255, 255, 255],
            "the grid was kept"
        );
    }
    let sent = &mock.requests()[0];
    assert_eq!(
        sent.json_at("/override_settings/return_grid"),
        Some(&serde_json::json!(false))
    );
    assert_eq!(
        sent.json_at("/do_not_save_grid"),
        Some(&serde_json::json!(true))
    );
    let init = sent
        .json_at("/init_images/0")
        .and_then(|v| v.as_str())
        .expect("init image");
    assert_eq!(
        sha256_hex(&b64_bytes(init)),
        sha256_hex(&photo_png(SIDE, SIDE)),
        "image bytes unchanged"
    );
}

#[tokio::test]
async fn a1111_opaque_image_without_mask_is_plain_img2img_with_size_and_overrides() {
    let (mock, mut target) = setup(Provider::A1111).await;
    target
        .override_params
        .insert("steps".to_owned(), serde_json::json!(12));
    target.override_params.insert(
        "override_settings".to_owned(),
        serde_json::json!({ "CLIP_stop_at_last_layers": 2 }),
    );
    let form = EditForm::new()
        .with(FormPart::file(
            "image",
            "photo.png",
            Some("image/png"),
            photo_png(SIDE, SIDE),
        ))
        .with(FormPart::text("prompt", "oil painting"))
        .with(FormPart::text("model", "test-model"))
        .with(FormPart::text("size", "515x260"));
    let (request, edit) = parse(form);
    Provider::A1111
        .edit(&request, &edit, &target, &client())
        .await
        .expect("edit");
    let sent = &mock.requests()[0];
    assert!(sent.json_at("/mask").is_none());
    assert_eq!(sent.json_at("/width"), Some(&serde_json::json!(512)));
    assert_eq!(sent.json_at("/height"), Some(&serde_json::json!(256)));
    assert_eq!(sent.json_at("/steps"), Some(&serde_json::json!(12)));
    assert_eq!(
        sent.json_at("/override_settings/return_grid"),
        Some(&serde_json::json!(false)),
        "merged, not replaced"
    );
    assert_eq!(
        sent.json_at("/override_settings/CLIP_stop_at_last_layers"),
        Some(&serde_json::json!(2))
    );
}

#[tokio::test]
async fn gemini_text_only_answer_is_a_clear_502() {
    let (mock, target) = setup(Provider::Gemini).await;
    mock.script([Reply::TextOnly]);
    let (request, edit) = parse(form(1));
    let error = Provider::Gemini
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("text only");
    assert_eq!(error.status, 502);
    assert!(
        error.message.contains("Here is the edited image."),
        "{}",
        error.message
    );
    assert_eq!(error.code.as_deref(), Some("no_image_returned"));
}

#[tokio::test]
async fn gemini_uses_the_default_model_and_maps_size_to_aspect_ratio() {
    let (mock, target) = setup(Provider::Gemini).await;
    let (request, edit) = parse(form(1).with(FormPart::text("size", "1536x1024")));
    Provider::Gemini
        .edit(&request, &edit, &target, &client())
        .await
        .expect("edit");
    let sent = &mock.requests()[0];
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-2.5-flash-image:generateContent"
    );
    assert_eq!(
        sent.json_at("/generationConfig/imageConfig/aspectRatio"),
        Some(&serde_json::json!("3:2"))
    );
    assert_eq!(
        sent.json_at("/contents/0/parts/0/text"),
        Some(&serde_json::json!("a red balloon"))
    );
    let image = sent
        .json_at("/contents/0/parts/1/inline_data/data")
        .and_then(|v| v.as_str())
        .expect("image");
    assert_eq!(
        sha256_hex(&b64_bytes(image)),
        sha256_hex(&photo_png(SIDE, SIDE))
    );
}

#[tokio::test]
async fn iopaint_varies_the_seed_and_refuses_nothing_to_edit() {
    let (mock, target) = setup(Provider::IoPaint).await;
    let (request, edit) = parse(form(3));
    let out = images(
        Provider::IoPaint
            .edit(&request, &edit, &target, &client())
            .await
            .expect("edit"),
    );
    let mut seeds: Vec<i64> = mock
        .requests()
        .iter()
        .filter_map(|r| r.json_at("/sd_seed").and_then(|v| v.as_i64()))
        .collect();
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), 3);
    let ProviderImage::Bytes { data, .. } = &out.images[0] else {
        panic!("bytes")
    };
    assert_eq!(
        image::load_from_memory(data).expect("decodes").width(),
        SIDE,
        "IOPaint keeps the size"
    );

    let opaque = EditForm::new()
        .with(FormPart::file(
            "image",
            "photo.png",
            Some("image/png"),
            photo_png(SIDE, SIDE),
        ))
        .with(FormPart::text("prompt", "x"))
        .with(FormPart::text("model", "test-model"));
    let (request, edit) = parse(opaque);
    let before = mock.edit_calls();
    let error = Provider::IoPaint
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("nothing to edit");
    assert_eq!(error.status, 400);
    assert_eq!(mock.edit_calls(), before);
}

#[tokio::test]
async fn openai_compatible_works_without_a_key_and_needs_a_base_url() {
    let mock = MockUpstream::start_with(MockKind::OpenAi, MockOptions { api_key: None }).await;
    let mut target = target(Provider::OpenAiCompatible, &mock);
    assert!(target.api_key.is_none());
    let (request, edit) = parse(form(1));
    Provider::OpenAiCompatible
        .edit(&request, &edit, &target, &client())
        .await
        .expect("edit");
    assert_eq!(mock.requests()[0].header("authorization"), None);
    target.base_url = None;
    let error = Provider::OpenAiCompatible
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("no base");
    assert_eq!(error.status, 400);
}

#[tokio::test]
async fn refused_connection_is_a_502_naming_the_provider() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut target = retouch_gateway::ProviderTarget::new(
        Some(Url::parse(&format!("http://127.0.0.1:{port}/v1")).expect("url")),
        Some(Secret::new("sk-unused-0000")),
    );
    target.timeout = Duration::from_secs(5);
    let (request, edit) = parse(form(1));
    let error = Provider::OpenAi
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("refused");
    assert_eq!(error.status, 502);
    assert!(error.message.contains("openai"), "{}", error.message);
    assert!(
        !String::from_utf8(error.to_json())
            .expect("utf-8")
            .contains("sk-unused")
    );
}
