//! The provider conformance suite: the same checks, generated for every adapter by
//! `conformance!`, each against a fresh mock upstream speaking that provider's wire format.
//!
//! success · `n` fan-out (upstream calls counted) · mask convention (pixels the mock received) ·
//! 4xx passthrough with message · 5xx → 502 · 429 → 429 with `retry_after` · timeout → 504 ·
//! bad auth → 401 without the key · malformed upstream body → 502.

use std::time::Duration;

use retouch_gateway::{Provider, ProviderImage, Secret};
use retouch_test_support::fixtures::{b64_bytes, openai_mask_png, sha256_hex};
use retouch_test_support::{MockUpstream, RecordedRequest, Reply};

use crate::common::{RECT, SIDE, assert_white_is_edit, client, form, images, parse, setup};

/// Upstream calls an adapter makes for `n` images.
fn expected_calls(provider: Provider, n: usize) -> usize {
    match provider {
        Provider::OpenAi | Provider::AzureOpenAi | Provider::OpenAiCompatible | Provider::A1111 => {
            1
        }
        Provider::StabilityAi | Provider::Gemini | Provider::IoPaint => n,
    }
}

/// Checks that the upstream saw the caller's credential where its API expects it.
fn assert_auth(provider: Provider, mock: &MockUpstream, request: &RecordedRequest) {
    let key = mock.api_key().expect("mock has a key");
    match provider {
        Provider::OpenAi
        | Provider::OpenAiCompatible
        | Provider::StabilityAi
        | Provider::IoPaint => {
            assert_eq!(
                request.header("authorization"),
                Some(format!("Bearer {key}").as_str())
            );
        }
        Provider::AzureOpenAi => {
            assert_eq!(request.header("api-key"), Some(key));
            assert_eq!(request.header("authorization"), None);
        }
        Provider::A1111 => {
            use base64::Engine as _;
            let basic = base64::engine::general_purpose::STANDARD.encode(key);
            assert_eq!(
                request.header("authorization"),
                Some(format!("Basic {basic}").as_str())
            );
        }
        Provider::Gemini => {
            assert_eq!(request.header("x-goog-api-key"), Some(key));
            assert_eq!(request.header("authorization"), None);
        }
    }
}

pub(crate) async fn success(provider: Provider) {
    let (mock, target) = setup(provider).await;
    let (request, edit) = parse(form(1));
    let out = images(
        provider
            .edit(&request, &edit, &target, &client())
            .await
            .expect("edit succeeds"),
    );
    assert_eq!(out.images.len(), 1);
    let ProviderImage::Bytes { data, mime } = &out.images[0] else {
        panic!("expected bytes")
    };
    assert!(image::load_from_memory(data).is_ok(), "result decodes");
    assert!(
        mime.as_deref().is_some_and(|m| m.starts_with("image/")),
        "{mime:?}"
    );
    let calls = mock.requests();
    assert_eq!(calls.len(), 1);
    assert_auth(provider, &mock, &calls[0]);
}

pub(crate) async fn fan_out(provider: Provider) {
    let (mock, target) = setup(provider).await;
    let (request, edit) = parse(form(3));
    let out = images(
        provider
            .edit(&request, &edit, &target, &client())
            .await
            .expect("edit succeeds"),
    );
    assert_eq!(out.images.len(), 3);
    assert_eq!(mock.edit_calls(), expected_calls(provider, 3));
    let first = &mock.requests()[0];
    match provider {
        Provider::OpenAi | Provider::AzureOpenAi | Provider::OpenAiCompatible => {
            assert_eq!(first.field("n").as_deref(), Some("3"));
        }
        Provider::A1111 => assert_eq!(first.json_at("/batch_size"), Some(&serde_json::json!(3))),
        Provider::StabilityAi | Provider::Gemini | Provider::IoPaint => {}
    }
    // Every result is a distinct upstream image (no duplicated fan-out result).
    let mut seen: Vec<&ProviderImage> = Vec::new();
    for image in &out.images {
        assert!(!seen.contains(&image), "duplicate result");
        seen.push(image);
    }
}

pub(crate) async fn mask_convention(provider: Provider) {
    let (mock, target) = setup(provider).await;
    let (request, edit) = parse(form(1));
    provider
        .edit(&request, &edit, &target, &client())
        .await
        .expect("edit succeeds");
    let sent = &mock.requests()[0];
    match provider {
        Provider::OpenAi | Provider::AzureOpenAi | Provider::OpenAiCompatible => {
            // OpenAI's own convention: the caller's bytes, unchanged.
            let mask = sent.part("mask").expect("mask part");
            assert_eq!(mask.sha256, sha256_hex(&openai_mask_png(SIDE, SIDE, RECT)));
            assert_eq!(mask.content_type.as_deref(), Some("image/png"));
        }
        Provider::StabilityAi => assert_white_is_edit(&sent.part("mask").expect("mask part").data),
        Provider::A1111 => {
            let mask = sent
                .json_at("/mask")
                .and_then(|v| v.as_str())
                .expect("mask field");
            assert_white_is_edit(&b64_bytes(mask));
            assert_eq!(
                sent.json_at("/inpainting_mask_invert"),
                Some(&serde_json::json!(0))
            );
        }
        Provider::IoPaint => {
            let mask = sent
                .json_at("/mask")
                .and_then(|v| v.as_str())
                .expect("mask field");
            assert_white_is_edit(&b64_bytes(mask));
        }
        Provider::Gemini => {
            let parts = sent
                .json_at("/contents/0/parts")
                .and_then(|v| v.as_array())
                .expect("parts");
            let last = parts.last().expect("a mask part");
            let data = last
                .pointer("/inline_data/data")
                .and_then(|v| v.as_str())
                .expect("inline mask");
            assert_white_is_edit(&b64_bytes(data));
            let hint = parts[parts.len() - 2]
                .get("text")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            assert!(
                hint.contains("mask"),
                "the mask is introduced by an instruction: {hint}"
            );
        }
    }
}

pub(crate) async fn client_error_passes_through(provider: Provider) {
    let (mock, target) = setup(provider).await;
    mock.script([Reply::ClientError {
        status: 400,
        message: "prompt mentions a forbidden word: zeppelin".to_owned(),
    }]);
    let (request, edit) = parse(form(1));
    let error = provider
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("4xx");
    assert_eq!(error.status, 400);
    assert!(
        error.message.contains("forbidden word: zeppelin"),
        "{}",
        error.message
    );
    assert_eq!(error.provider.as_deref(), Some(provider.slug()));
    assert!(!error.retryable);
}

pub(crate) async fn server_error_is_bad_gateway(provider: Provider) {
    let (mock, target) = setup(provider).await;
    mock.script([Reply::ServerError]);
    let (request, edit) = parse(form(1));
    let error = provider
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("5xx");
    assert_eq!(error.status, 502);
    assert!(error.message.contains(provider.slug()), "{}", error.message);
    assert_eq!(error.provider.as_deref(), Some(provider.slug()));
    assert!(error.retryable);
    let body = String::from_utf8(error.to_json()).expect("utf-8");
    assert!(body.contains("\"type\":\"server_error\""), "{body}");
}

pub(crate) async fn rate_limit_keeps_retry_after(provider: Provider) {
    let (mock, target) = setup(provider).await;
    mock.script([Reply::RateLimited {
        retry_after_secs: 7,
    }]);
    let (request, edit) = parse(form(1));
    let error = provider
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("429");
    assert_eq!(error.status, 429);
    assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
    assert!(error.retryable);
    assert_eq!(error.provider.as_deref(), Some(provider.slug()));
}

pub(crate) async fn timeout_is_gateway_timeout(provider: Provider) {
    let (mock, mut target) = setup(provider).await;
    mock.script([Reply::Hang]);
    target.timeout = Duration::from_millis(300);
    let (request, edit) = parse(form(1));
    let started = std::time::Instant::now();
    let error = provider
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("timeout");
    assert_eq!(error.status, 504);
    assert_eq!(error.provider.as_deref(), Some(provider.slug()));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up in time: {:?}",
        started.elapsed()
    );
}

pub(crate) async fn bad_auth_is_401_without_the_key(provider: Provider) {
    let (_mock, mut target) = setup(provider).await;
    let wrong = match provider {
        Provider::A1111 => "mockuser:wrong-password-5550123",
        Provider::OpenAi
        | Provider::AzureOpenAi
        | Provider::StabilityAi
        | Provider::Gemini
        | Provider::IoPaint
        | Provider::OpenAiCompatible => "sk-wrong-key-5550123456789",
    };
    target.api_key = Some(Secret::new(wrong));
    let (request, edit) = parse(form(1));
    let error = provider
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("401");
    assert_eq!(error.status, 401, "{error:?}");
    let visible = String::from_utf8(error.to_json()).expect("utf-8");
    let debug = format!("{error:?} {target:?}");
    for leak in [wrong, "wrong-password-5550123", "5550123456789"] {
        assert!(
            !visible.contains(leak),
            "key leaked into the body: {visible}"
        );
        assert!(!debug.contains(leak), "key leaked into Debug: {debug}");
    }
}

pub(crate) async fn malformed_body_is_bad_gateway(provider: Provider) {
    let (mock, target) = setup(provider).await;
    mock.script([Reply::Malformed]);
    let (request, edit) = parse(form(1));
    let error = provider
        .edit(&request, &edit, &target, &client())
        .await
        .expect_err("malformed");
    assert_eq!(error.status, 502);
    assert_eq!(error.provider.as_deref(), Some(provider.slug()));
}

macro_rules! conformance {
    ($($name:ident => $provider:expr),+ $(,)?) => {
        $(
            mod $name {
                use retouch_gateway::Provider;
                const PROVIDER: Provider = $provider;

                #[tokio::test]
                async fn success() { super::success(PROVIDER).await }
                #[tokio::test]
                async fn fan_out() { super::fan_out(PROVIDER).await }
                #[tokio::test]
                async fn mask_convention() { super::mask_convention(PROVIDER).await }
                #[tokio::test]
                async fn client_error_passes_through() { super::client_error_passes_through(PROVIDER).await }
                #[tokio::test]
                async fn server_error_is_bad_gateway() { super::server_error_is_bad_gateway(PROVIDER).await }
                #[tokio::test]
                async fn rate_limit_keeps_retry_after() { super::rate_limit_keeps_retry_after(PROVIDER).await }
                #[tokio::test]
                async fn timeout_is_gateway_timeout() { super::timeout_is_gateway_timeout(PROVIDER).await }
                #[tokio::test]
                async fn bad_auth_is_401_without_the_key() { super::bad_auth_is_401_without_the_key(PROVIDER).await }
                #[tokio::test]
                async fn malformed_body_is_bad_gateway() { super::malformed_body_is_bad_gateway(PROVIDER).await }
            }
        )+
    };
}

conformance! {
    openai => Provider::OpenAi,
    azure_openai => Provider::AzureOpenAi,
    stability_ai => Provider::StabilityAi,
    a1111 => Provider::A1111,
    gemini => Provider::Gemini,
    iopaint => Provider::IoPaint,
    openai_compatible => Provider::OpenAiCompatible,
}
