//! Successful edits on the default route (the local engine).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;

use crate::common::*;

fn b64_image(value: &serde_json::Value) -> image::RgbaImage {
    let bytes = STANDARD
        .decode(value["b64_json"].as_str().expect("b64_json"))
        .unwrap();
    decode(&bytes)
}

#[tokio::test]
async fn fills_the_transparent_hole_and_keeps_every_known_pixel() {
    let app = app().await;
    let input = test_rgba(96, 64, true);
    let bytes = png(&input);
    let body = multipart(&[
        Part::Text("prompt", "remove it"),
        Part::Text("model", "gpt-image-1.5"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: &bytes,
        },
    ]);
    let response = app.send(edit_request(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-portkey-provider"], "local");
    assert_eq!(response.headers()["x-retouch-model"], "retouch-fill");
    assert!(response.headers().contains_key("x-request-id"));
    let json = json(response).await;
    assert!(json["created"].as_u64().unwrap() > 1_700_000_000);
    let data = json["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    let result = b64_image(&data[0]);
    assert_known_pixels_unchanged(&input, &input, &result);
    // The hole is filled with opaque pixels taken from the picture.
    assert!(result.pixels().all(|p| p[3] == 255));
    assert_eq!(json["size"], "96x64");
    assert_eq!(json["output_format"], "png");
    assert_eq!(json["background"], "opaque");
    assert!(json["quality"].is_string() && json["quality"] != "auto");
    assert!(json["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_separate_mask_marks_the_edit_and_n_gives_distinct_fills() {
    let app = app().await;
    let input = test_rgba(80, 80, false);
    let mask = test_rgba(80, 80, true);
    let (image_png, mask_png) = (png(&input), png(&mask));
    let body = multipart(&[
        Part::File {
            name: "image[]",
            filename: "a.png",
            content_type: "application/octet-stream",
            data: &image_png,
        },
        Part::File {
            name: "mask",
            filename: "mask.png",
            content_type: "image/png",
            data: &mask_png,
        },
        Part::Text("prompt", "fill"),
        Part::Text("n", "3"),
    ]);
    let response = app.send(edit_request(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json = json(response).await;
    let results: Vec<_> = json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(b64_image)
        .collect();
    assert_eq!(results.len(), 3);
    for result in &results {
        assert_known_pixels_unchanged(&input, &mask, result);
    }
    assert!(
        results[0] != results[1] || results[1] != results[2],
        "n=3 gave identical fills"
    );
}

#[tokio::test]
async fn size_resizes_the_result_and_output_format_encodes_it() {
    let app = app().await;
    let bytes = png(&test_rgba(64, 64, true));
    let body = multipart(&[
        Part::Text("prompt", "x"),
        Part::Text("size", "256x128"),
        Part::Text("output_format", "jpeg"),
        Part::Text("output_compression", "80"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: &bytes,
        },
    ]);
    let response = app.send(edit_request(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json = json(response).await;
    let raw = STANDARD
        .decode(json["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    assert_eq!(&raw[..3], &[0xFF, 0xD8, 0xFF], "not a JPEG");
    assert_eq!(decode(&raw).dimensions(), (256, 128));
    assert_eq!(json["size"], "256x128");
    assert_eq!(json["output_format"], "jpeg");
}

#[tokio::test]
async fn dall_e_2_requests_get_its_response_shape() {
    let app = app().await;
    let bytes = png(&test_rgba(64, 64, true));
    let body = multipart(&[
        Part::Text("prompt", "x"),
        Part::Text("model", "dall-e-2"),
        Part::Text("response_format", "b64_json"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: &bytes,
        },
    ]);
    let response = app.send(edit_request(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json = json(response).await;
    assert!(json["data"][0]["b64_json"].is_string());
    assert!(
        json.get("usage").is_none() && json.get("size").is_none(),
        "{json}"
    );
}

#[tokio::test]
async fn the_json_body_with_data_urls_is_accepted() {
    let app = app().await;
    let input = test_rgba(48, 48, true);
    let url = format!("data:image/png;base64,{}", STANDARD.encode(png(&input)));
    let body = serde_json::json!({"model": "gpt-image-1", "prompt": "x", "images": [{"image_url": url}], "n": 1});
    let request = http::Request::post("/v1/images/edits")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json = json(response).await;
    assert_known_pixels_unchanged(&input, &input, &b64_image(&json["data"][0]));
}

#[tokio::test]
async fn health_and_models() {
    let app = app().await;
    let response = app
        .send(
            http::Request::get("/health")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .send(
            http::Request::get("/v1/models")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let json = json(response).await;
    assert_eq!(json["object"], "list");
    assert_eq!(json["data"][0]["id"], "retouch-fill");
}
