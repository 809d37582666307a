//! Portkey-compatible routing through the whole app: request headers and configs, every
//! strategy, retries, timeouts, overrides, errors and response headers, against mock upstreams
//! on 127.0.0.1 (asserting what the mocks received and how often).

use std::time::{Duration, Instant};

use axum::body::Body;
use http::{Request, StatusCode};
use retouch_test_support::fixtures::{photo_png, sha256_hex};
use retouch_test_support::{MockKind, MockUpstream, Reply};
use serde_json::{Value, json};

use crate::common::{self, BOUNDARY, Part, TestApp};

/// A multipart edit with one PNG, `prompt`, and `fields`, carrying `headers`.
fn edit(image: &[u8], fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Request<Body> {
    let mut parts = vec![
        Part::File {
            name: "image",
            filename: "photo.png",
            content_type: "image/png",
            data: image,
        },
        Part::Text("prompt", "remove the lamp post"),
    ];
    parts.extend(fields.iter().map(|(k, v)| Part::Text(k, v)));
    let mut builder = Request::post("/v1/images/edits")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("host", "127.0.0.1:8787");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(common::multipart(&parts))).unwrap()
}

fn header<'a>(response: &'a http::Response<Body>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
}

async fn openai_mock() -> MockUpstream {
    MockUpstream::start(MockKind::OpenAi).await
}

fn target(mock: &MockUpstream) -> Value {
    json!({"provider": "openai", "custom_host": mock.base_url(), "api_key": mock.api_key()})
}

async fn send_config(
    app: &TestApp,
    config: &Value,
    headers: &[(&str, &str)],
) -> http::Response<Body> {
    let config = config.to_string();
    let mut all = vec![("x-portkey-config", config.as_str())];
    all.extend_from_slice(headers);
    app.send(edit(&photo_png(32, 32), &[("model", "gpt-image-1")], &all))
        .await
}

#[tokio::test]
async fn portkey_docs_curl_works_with_bearer_key_and_file_bytes_arrive_intact() {
    let app = common::app().await;
    let mock = openai_mock().await;
    let image = photo_png(48, 48);
    let key = mock.api_key().unwrap().to_owned();
    let bearer = format!("Bearer {key}");
    let host = mock.base_url();
    let response = app
        .send(edit(
            &image,
            &[("model", "gpt-image-1"), ("size", "1024x1024")],
            &[
                ("x-portkey-provider", "openai"),
                ("x-portkey-custom-host", &host),
                ("authorization", &bearer),
                ("x-portkey-trace-id", "trace-123"),
            ],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-portkey-provider"), "openai");
    assert_eq!(
        header(&response, "x-portkey-last-used-option-index"),
        "config"
    );
    assert_eq!(header(&response, "x-portkey-retry-attempt-count"), "0");
    assert_eq!(header(&response, "x-portkey-trace-id"), "trace-123");
    assert_eq!(header(&response, "x-portkey-cache-status"), "DISABLED");
    assert!(header(&response, "x-upstream-request-id").starts_with("req_mock_"));
    assert_ne!(
        header(&response, "x-request-id"),
        header(&response, "x-upstream-request-id")
    );
    let body = common::body_bytes(response).await;
    assert!(!String::from_utf8_lossy(&body).contains(&key));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body["data"][0]["b64_json"].is_string());
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("authorization"), Some(bearer.as_str()));
    assert_eq!(requests[0].header("x-portkey-provider"), None);
    let sent = requests[0].part("image").unwrap();
    assert_eq!(sha256_hex(&sent.data), sha256_hex(&image));
    assert_eq!(sent.filename.as_deref(), Some("photo.png"));
}

#[tokio::test]
async fn x_portkey_api_key_is_the_provider_key_and_never_echoed_on_errors() {
    let app = common::app().await;
    let mock = openai_mock().await;
    let host = mock.base_url();
    let response = app
        .send(edit(
            &photo_png(32, 32),
            &[("model", "gpt-image-1")],
            &[
                ("x-portkey-provider", "openai"),
                ("x-portkey-custom-host", &host),
                (
                    "x-portkey-api-key",
                    "sk-wrong-key-that-must-not-leak-123456",
                ),
            ],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = common::body_bytes(response).await;
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains("sk-wrong-key-that-must-not-leak"), "{text}");
    assert_eq!(
        mock.requests()[0].header("authorization"),
        Some("Bearer sk-wrong-key-that-must-not-leak-123456")
    );
}

#[tokio::test]
async fn no_routing_headers_keeps_the_local_engine_default() {
    let app = common::app().await;
    let image = common::png(&common::test_rgba(32, 32, true));
    let response = app
        .send(edit(&image, &[], &[("authorization", "Bearer sk-ignored")]))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-portkey-provider"), "local");
    assert_eq!(
        header(&response, "x-portkey-last-used-option-index"),
        "config"
    );
    assert!(!header(&response, "x-portkey-trace-id").is_empty());
}

#[tokio::test]
async fn fallback_moves_on_after_a_listed_5xx_and_reports_the_target() {
    let app = common::app().await;
    let (a, b) = (openai_mock().await, openai_mock().await);
    a.script([Reply::ServerError]);
    let config = json!({
        "strategy": {"mode": "fallback", "on_status_codes": [500, 503]},
        "targets": [target(&a), target(&b)]
    });
    let response = send_config(&app, &config, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    assert_eq!((a.edit_calls(), b.edit_calls()), (1, 1));
}

#[tokio::test]
async fn fallback_stops_on_an_unlisted_status_with_a_502_naming_the_provider() {
    let app = common::app().await;
    let (a, b) = (openai_mock().await, openai_mock().await);
    a.script([Reply::ServerError]);
    let config = json!({
        "strategy": {"mode": "fallback", "on_status_codes": [429]},
        "targets": [target(&a), target(&b)]
    });
    let response = send_config(&app, &config, &[]).await;
    assert_eq!(
        header(&response, "x-portkey-last-used-option-index"),
        "config.targets[0]"
    );
    let error = common::assert_error(
        response,
        StatusCode::BAD_GATEWAY,
        "server_error",
        None,
        "openai",
    )
    .await;
    assert!(!error.to_string().contains(a.api_key().unwrap()));
    assert_eq!((a.edit_calls(), b.edit_calls()), (1, 0));
}

#[tokio::test]
async fn loadbalance_never_chooses_weight_zero() {
    let app = common::app().await;
    let (a, b) = (openai_mock().await, openai_mock().await);
    let mut zero = target(&a);
    zero["weight"] = json!(0);
    let mut one = target(&b);
    one["weight"] = json!(1);
    let config = json!({"strategy": {"mode": "loadbalance"}, "targets": [zero, one]});
    for _ in 0..8 {
        let response = send_config(&app, &config, &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "x-portkey-last-used-option-index"),
            "config.targets[1]"
        );
    }
    assert_eq!((a.edit_calls(), b.edit_calls()), (0, 8));
}

#[tokio::test]
async fn conditional_routes_on_metadata_and_on_multipart_params() {
    let app = common::app().await;
    let (pro, free) = (openai_mock().await, openai_mock().await);
    let mut p = target(&pro);
    p["name"] = json!("pro");
    let mut f = target(&free);
    f["name"] = json!("free");
    let config = json!({
        "strategy": {"mode": "conditional", "default": "free", "conditions": [
            {"query": {"metadata.tier": {"$eq": "pro"}}, "then": "pro"},
            {"query": {"params.model": {"$eq": "gpt-image-1.5"}}, "then": "pro"}
        ]},
        "targets": [p, f]
    });
    let response = send_config(
        &app,
        &config,
        &[("x-portkey-metadata", r#"{"tier":"pro"}"#)],
    )
    .await;
    assert_eq!(
        header(&response, "x-portkey-last-used-option-index"),
        "config.targets[0]"
    );
    let response = send_config(
        &app,
        &config,
        &[("x-portkey-metadata", r#"{"tier":"free"}"#)],
    )
    .await;
    assert_eq!(
        header(&response, "x-portkey-last-used-option-index"),
        "config.targets[1]"
    );
    let config_text = config.to_string();
    let response = app
        .send(edit(
            &photo_png(32, 32),
            &[("model", "gpt-image-1.5")],
            &[("x-portkey-config", &config_text)],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "x-portkey-last-used-option-index"),
        "config.targets[0]"
    );
    assert_eq!((pro.edit_calls(), free.edit_calls()), (2, 1));
}

#[tokio::test]
async fn retry_honours_retry_after_and_counts_attempts() {
    let app = common::app().await;
    let mock = openai_mock().await;
    mock.script([Reply::RateLimited {
        retry_after_secs: 1,
    }]);
    let mut config = target(&mock);
    config["retry"] = json!({"attempts": 2, "use_retry_after_header": true});
    let started = Instant::now();
    let response = send_config(&app, &config, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(header(&response, "x-portkey-retry-attempt-count"), "1");
    assert_eq!(mock.edit_calls(), 2);
}

#[tokio::test]
async fn exhausted_retries_report_minus_one_and_pass_the_429_through() {
    let app = common::app().await;
    let mock = openai_mock().await;
    mock.script([
        Reply::RateLimited {
            retry_after_secs: 0,
        },
        Reply::RateLimited {
            retry_after_secs: 0,
        },
        Reply::RateLimited {
            retry_after_secs: 0,
        },
    ]);
    let mut config = target(&mock);
    config["retry"] = json!({"attempts": 2, "use_retry_after_header": true});
    let response = send_config(&app, &config, &[]).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "x-portkey-retry-attempt-count"), "-1");
    assert_eq!(mock.edit_calls(), 3);
}

#[tokio::test]
async fn a_4xx_is_not_retried() {
    let app = common::app().await;
    let mock = openai_mock().await;
    mock.script([Reply::ClientError {
        status: 400,
        message: "bad prompt".into(),
    }]);
    let mut config = target(&mock);
    config["retry"] = json!({"attempts": 3});
    let response = send_config(&app, &config, &[]).await;
    assert_eq!(header(&response, "x-portkey-retry-attempt-count"), "0");
    common::assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        None,
        "bad prompt",
    )
    .await;
    assert_eq!(mock.edit_calls(), 1);
}

#[tokio::test]
async fn per_attempt_timeout_answers_408() {
    let app = common::app().await;
    let mock = openai_mock().await;
    mock.script([Reply::Hang]);
    let mut config = target(&mock);
    config["request_timeout"] = json!(300);
    let started = Instant::now();
    let response = send_config(&app, &config, &[]).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let error = common::assert_error(
        response,
        StatusCode::REQUEST_TIMEOUT,
        "server_error",
        None,
        "300ms",
    )
    .await;
    assert_eq!(error["code"], "request_timeout");
}

#[tokio::test]
async fn override_params_rewrite_multipart_fields_upstream() {
    let app = common::app().await;
    let mock = openai_mock().await;
    let mut config = target(&mock);
    config["override_params"] = json!({"model": "gpt-image-1-mini", "size": "1024x1536"});
    let config = config.to_string();
    let response = app
        .send(edit(
            &photo_png(32, 32),
            &[("model", "gpt-image-1"), ("size", "1024x1024")],
            &[("x-portkey-config", &config)],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let sent = &mock.requests()[0];
    assert_eq!(sent.field("model").as_deref(), Some("gpt-image-1-mini"));
    assert_eq!(sent.field("size").as_deref(), Some("1024x1536"));
}

#[tokio::test]
async fn target_model_rules_refuse_before_any_upstream_call() {
    let app = common::app().await;
    let mock = openai_mock().await;
    let host = mock.base_url();
    let response = app
        .send(edit(
            &photo_png(32, 32),
            &[("model", "dall-e-2"), ("size", "1024x1536")],
            &[
                ("x-portkey-provider", "openai"),
                ("x-portkey-custom-host", &host),
            ],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(mock.edit_calls(), 0);
}

#[tokio::test]
async fn invalid_config_is_a_400_naming_the_path() {
    let app = common::app().await;
    let mock = openai_mock().await;
    let mut bad = target(&mock);
    bad["weight"] = json!(-1);
    let config = json!({"strategy": {"mode": "loadbalance"}, "targets": [target(&mock), bad]});
    let response = send_config(&app, &config, &[]).await;
    common::assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("x-portkey-config"),
        "config.targets[1].weight: must be ≥ 0",
    )
    .await;
    let response = send_config(
        &app,
        &json!({"strategy": {"mode": "roundrobin"}, "targets": [target(&mock)]}),
        &[],
    )
    .await;
    common::assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("x-portkey-config"),
        "config.strategy.mode",
    )
    .await;
    let response = app
        .send(edit(
            &photo_png(8, 8),
            &[],
            &[("x-portkey-config", "{not json")],
        ))
        .await;
    common::assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("x-portkey-config"),
        "not valid JSON",
    )
    .await;
    assert_eq!(mock.edit_calls(), 0);
}

#[tokio::test]
async fn custom_host_goes_through_the_ssrf_guard() {
    let app = common::app().await;
    let response = app
        .send(edit(
            &photo_png(32, 32),
            &[("model", "gpt-image-1")],
            &[
                ("x-portkey-provider", "openai"),
                ("x-portkey-custom-host", "http://169.254.169.254/v1"),
                ("authorization", "Bearer sk-test-secret-value-000"),
            ],
        ))
        .await;
    assert!(response.status().is_client_error() || response.status().is_server_error());
    assert_ne!(response.status(), StatusCode::OK);
    let text = String::from_utf8_lossy(&common::body_bytes(response).await).into_owned();
    assert!(!text.contains("sk-test-secret-value"), "{text}");
    assert!(text.contains("\"error\""), "{text}");
}

#[tokio::test]
async fn unknown_provider_and_virtual_keys_are_clear_400s() {
    let app = common::app().await;
    let response = app
        .send(edit(
            &photo_png(8, 8),
            &[],
            &[("x-portkey-provider", "nonesuch")],
        ))
        .await;
    common::assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("x-portkey-provider"),
        "nonesuch",
    )
    .await;
    let response = app
        .send(edit(
            &photo_png(8, 8),
            &[],
            &[("x-portkey-virtual-key", "vk-1")],
        ))
        .await;
    common::assert_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("x-portkey-virtual-key"),
        "no virtual key 'vk-1' exists",
    )
    .await;
}

#[tokio::test]
async fn forward_headers_copy_only_the_named_client_headers() {
    let app = common::app().await;
    let mock = openai_mock().await;
    let host = mock.base_url();
    let bearer = format!("Bearer {}", mock.api_key().unwrap());
    let response = app
        .send(edit(
            &photo_png(32, 32),
            &[("model", "gpt-image-1")],
            &[
                ("x-portkey-provider", "openai"),
                ("x-portkey-custom-host", &host),
                ("authorization", &bearer),
                ("x-portkey-forward-headers", "x-custom-foo"),
                ("x-custom-foo", "bar"),
                ("x-custom-other", "nope"),
            ],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let sent = &mock.requests()[0];
    assert_eq!(sent.header("x-custom-foo"), Some("bar"));
    assert_eq!(sent.header("x-custom-other"), None);
}

#[tokio::test]
async fn stream_true_passes_the_upstream_sse_through() {
    let app = common::app().await;
    let mock = openai_mock().await;
    let config = target(&mock).to_string();
    let response = app
        .send(edit(
            &photo_png(32, 32),
            &[("model", "gpt-image-1"), ("stream", "true")],
            &[("x-portkey-config", &config)],
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "content-type").starts_with("text/event-stream"));
    let text = String::from_utf8(common::body_bytes(response).await.to_vec()).unwrap();
    assert!(text.contains("image_edit.completed"), "{text}");
}
