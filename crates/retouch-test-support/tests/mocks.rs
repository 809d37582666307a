//! The mocks refuse what the real APIs refuse, so an adapter that passes against them is not
//! merely talking to something that says yes to everything.

#![expect(
    clippy::unwrap_used,
    reason = "helpers shared by tests: a failed unwrap is a failed test"
)]

use reqwest::multipart::{Form, Part};
use retouch_test_support::fixtures::{openai_mask_png, photo_png, sha256_hex};
use retouch_test_support::{MockKind, MockUpstream, Reply};
use serde_json::{Value, json};

fn png_part(bytes: Vec<u8>, mime: &str) -> Part {
    Part::bytes(bytes)
        .file_name("photo.png")
        .mime_str(mime)
        .unwrap()
}

async fn post_openai(mock: &MockUpstream, form: Form, key: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/images/edits", mock.base_url()))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn openai_mock_checks_auth_fields_and_mimetypes_like_openai() {
    let mock = MockUpstream::start(MockKind::OpenAi).await;
    let key = mock.api_key().unwrap().to_owned();
    let image = photo_png(8, 8);

    let form = Form::new()
        .part("image", png_part(image.clone(), "image/png"))
        .text("prompt", "x");
    let (status, body) = post_openai(&mock, form, "sk-wrong").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");

    let form = Form::new().part("image", png_part(image.clone(), "image/png"));
    let (status, body) = post_openai(&mock, form, &key).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "Missing required parameter: 'prompt'."
    );

    let form = Form::new()
        .part("image", png_part(image.clone(), "application/octet-stream"))
        .text("prompt", "x");
    let (status, body) = post_openai(&mock, form, &key).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "unsupported_file_mimetype");

    let form = Form::new()
        .part("image", png_part(image.clone(), "image/png"))
        .part(
            "mask",
            png_part(openai_mask_png(8, 8, (0, 0, 4, 4)), "image/png"),
        )
        .text("prompt", "x")
        .text("n", "2");
    let (status, body) = post_openai(&mock, form, &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);

    let recorded = mock.requests();
    assert_eq!(recorded.len(), 4);
    assert_eq!(
        recorded[3].part("image").unwrap().sha256,
        sha256_hex(&image)
    );
}

#[tokio::test]
async fn scripted_replies_are_used_in_order_then_success_resumes() {
    let mock = MockUpstream::start(MockKind::Stability).await;
    mock.script([
        Reply::RateLimited {
            retry_after_secs: 3,
        },
        Reply::ServerError,
    ]);
    let client = reqwest::Client::new();
    let send = || {
        let form = Form::new()
            .part("image", png_part(photo_png(8, 8), "image/png"))
            .text("prompt", "sky");
        client
            .post(format!(
                "{}/v2beta/stable-image/edit/inpaint",
                mock.base_url()
            ))
            .bearer_auth(mock.api_key().unwrap())
            .header("accept", "application/json")
            .multipart(form)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status().as_u16(), 429);
    assert_eq!(first.headers()["retry-after"], "3");
    let second = send().await.unwrap();
    assert_eq!(second.status().as_u16(), 500);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["name"], "internal_error");
    let third: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(third["finish_reason"], "SUCCESS");
}

#[tokio::test]
async fn iopaint_mock_refuses_a_mask_of_another_size() {
    use base64::Engine as _;
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mock = MockUpstream::start(MockKind::IoPaint).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/inpaint", mock.base_url()))
        .bearer_auth(mock.api_key().unwrap())
        .json(&json!({ "image": b64(photo_png(8, 8)), "mask": b64(photo_png(4, 4)), "prompt": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("not match"));
}

#[tokio::test]
async fn a1111_mock_prepends_a_grid_unless_disabled() {
    use base64::Engine as _;
    let image = base64::engine::general_purpose::STANDARD.encode(photo_png(8, 8));
    let mock = MockUpstream::start_with(
        MockKind::A1111,
        retouch_test_support::MockOptions { api_key: None },
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/sdapi/v1/img2img", mock.base_url());
    let with_grid: Value = client
        .post(&url)
        .json(&json!({ "init_images": [image], "batch_size": 2 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(with_grid["images"].as_array().unwrap().len(), 3);
    let without: Value = client
        .post(&url)
        .json(&json!({ "init_images": [image], "batch_size": 2, "override_settings": { "return_grid": false } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let images = without["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    let first = retouch_test_support::fixtures::b64_bytes(images[0].as_str().unwrap());
    let pixel = retouch_test_support::fixtures::decode(&first)
        .get_pixel(0, 0)
        .0;
    assert_ne!(pixel, [255, 255, 255, 255], "the grid was returned");
}
