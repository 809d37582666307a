//! Bad requests of every kind get a 4xx in OpenAI's shape: never a 5xx, never a hang.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Request, StatusCode};
use retouch_server::Limits;

use crate::common::*;

const INVALID: &str = "invalid_request_error";

fn raw_request(content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post("/v1/images/edits");
    if let Some(ct) = content_type {
        builder = builder.header("content-type", ct);
    }
    builder.body(body.into()).unwrap()
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = app().await;
    let response = app
        .send(Request::get("/v1/nope").body(Body::empty()).unwrap())
        .await;
    assert_error(
        response,
        StatusCode::NOT_FOUND,
        INVALID,
        None,
        "Invalid URL (GET /v1/nope)",
    )
    .await;
    let response = app
        .send(
            Request::get("/v1/images/edits")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        INVALID,
        None,
        "Method GET is not allowed",
    )
    .await;
}

#[tokio::test]
async fn wrong_or_missing_content_type() {
    let app = app().await;
    let response = app.send(raw_request(Some("text/plain"), "hello")).await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        INVALID,
        None,
        "multipart/form-data",
    )
    .await;
    let response = app.send(raw_request(None, "hello")).await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        INVALID,
        None,
        "(none)",
    )
    .await;
}

#[tokio::test]
async fn multipart_without_a_boundary() {
    let app = app().await;
    let response = app
        .send(raw_request(Some("multipart/form-data"), "--x\r\n"))
        .await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        None,
        "no boundary",
    )
    .await;
}

#[tokio::test]
async fn empty_bodies() {
    let app = app().await;
    let request = Request::post("/v1/images/edits")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("content-length", "0")
        .body(Body::empty())
        .unwrap();
    assert_error(
        app.send(request).await,
        StatusCode::BAD_REQUEST,
        INVALID,
        None,
        "empty",
    )
    .await;
    let response = app.send(raw_request(Some("application/json"), "")).await;
    assert_error(response, StatusCode::BAD_REQUEST, INVALID, None, "empty").await;
}

#[tokio::test]
async fn a_body_that_does_not_match_its_boundary() {
    let app = app().await;
    let body = multipart(&[Part::Text("prompt", "x")]);
    let response = app
        .send(raw_request(
            Some("multipart/form-data; boundary=somethingelse"),
            body,
        ))
        .await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        None,
        "Invalid multipart/form-data body",
    )
    .await;
}

#[tokio::test]
async fn a_truncated_body() {
    let app = app().await;
    let image = png(&test_rgba(32, 32, true));
    let mut body = multipart(&[
        Part::Text("prompt", "x"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: &image,
        },
    ]);
    body.truncate(body.len() / 2);
    let response = app.send(edit_request(body)).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        None,
        "Invalid multipart/form-data body",
    )
    .await;
}

#[tokio::test]
async fn a_part_without_a_name() {
    let app = app().await;
    let raw = b"Content-Disposition: form-data\r\n\r\nvalue\r\n";
    let body = multipart(&[Part::Raw(raw)]);
    let response = app.send(edit_request(body)).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        None,
        "a part has no name",
    )
    .await;
}

#[tokio::test]
async fn the_same_field_twice_and_non_utf8_text() {
    let app = app().await;
    let image = png(&test_rgba(32, 32, true));
    let file = Part::File {
        name: "image",
        filename: "a.png",
        content_type: "image/png",
        data: &image,
    };
    let body = multipart(&[Part::Text("prompt", "a"), Part::Text("prompt", "b"), file]);
    let response = app.send(edit_request(body)).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        Some("prompt"),
        "prompt",
    )
    .await;

    let file = Part::File {
        name: "image",
        filename: "a.png",
        content_type: "image/png",
        data: &image,
    };
    let bad = b"Content-Disposition: form-data; name=\"prompt\"\r\n\r\n\xff\xfe\r\n";
    let body = multipart(&[Part::Raw(bad), file]);
    let response = app.send(edit_request(body)).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        Some("prompt"),
        "UTF-8",
    )
    .await;
}

#[tokio::test]
async fn missing_image_and_prompt_use_openais_messages() {
    let app = app().await;
    let body = multipart(&[Part::Text("prompt", "x")]);
    let response = app.send(edit_request(body)).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        Some("image"),
        "Missing required parameter: 'image'.",
    )
    .await;
    let image = png(&test_rgba(32, 32, true));
    let body = multipart(&[Part::File {
        name: "image",
        filename: "a.png",
        content_type: "image/png",
        data: &image,
    }]);
    let response = app.send(edit_request(body)).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        Some("prompt"),
        "Missing required parameter: 'prompt'.",
    )
    .await;
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_reading() {
    let app = app_with(Options {
        limits: Limits {
            max_body_bytes: 1000,
            ..Limits::default()
        },
        ..Options::default()
    })
    .await;
    let request = Request::post("/v1/images/edits")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("content-length", "60000000")
        // The body never arrives: the answer must not wait for it.
        .body(Body::from_stream(futures_util::stream::pending::<
            Result<Bytes, std::io::Error>,
        >()))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), app.send(request))
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::PAYLOAD_TOO_LARGE,
        INVALID,
        None,
        "limit",
    )
    .await;
}

#[tokio::test]
async fn an_oversized_file_is_refused_while_streaming() {
    let limits = Limits {
        max_file_bytes: 10_000,
        ..Limits::default()
    };
    let app = app_with(Options {
        limits,
        ..Options::default()
    })
    .await;
    let big = vec![7u8; 50_000];
    let body = multipart(&[
        Part::Text("prompt", "x"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: &big,
        },
    ]);
    // Chunked: no content-length to check up front.
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(4096)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let request = Request::post("/v1/images/edits")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let response = app.send(request).await;
    assert_error(
        response,
        StatusCode::PAYLOAD_TOO_LARGE,
        INVALID,
        Some("image"),
        "The 'image' part",
    )
    .await;
}

#[tokio::test]
async fn too_many_parts() {
    let app = app().await;
    let parts: Vec<Part<'_>> = (0..100).map(|_| Part::Text("x", "y")).collect();
    let response = app.send(edit_request(multipart(&parts))).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        None,
        "Too many parts",
    )
    .await;
}

#[tokio::test]
async fn a_stalled_body_times_out() {
    let limits = Limits {
        body_idle_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let app = app_with(Options {
        limits,
        ..Options::default()
    })
    .await;
    let start = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nx");
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::from(start))])
        .chain(futures_util::stream::pending());
    let request = Request::post("/v1/images/edits")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from_stream(stream))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), app.send(request))
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::REQUEST_TIMEOUT,
        INVALID,
        None,
        "Request timeout",
    )
    .await;
}

#[tokio::test]
async fn json_of_the_wrong_shape() {
    let app = app().await;
    let response = app
        .send(raw_request(
            Some("application/json"),
            r#"{"images": "nope", "prompt": 5}"#,
        ))
        .await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        Some("images"),
        "Invalid type for 'images': expected an array of objects, but got a string instead.",
    )
    .await;
    let response = app
        .send(raw_request(Some("application/json"), "{not json"))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_file_that_is_not_an_image() {
    let app = app().await;
    let body = multipart(&[
        Part::Text("prompt", "x"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: b"GIF89a not really",
        },
    ]);
    let response = app.send(edit_request(body)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let json = json(response).await;
    assert_eq!(
        json["error"]["param"]
            .as_str()
            .map(|p| p.starts_with("image")),
        Some(true),
        "{json}"
    );
}

#[tokio::test]
async fn a_mask_of_the_wrong_size() {
    let app = app().await;
    let (image, mask) = (
        png(&test_rgba(40, 40, false)),
        png(&test_rgba(20, 40, true)),
    );
    let body = multipart(&[
        Part::Text("prompt", "x"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: &image,
        },
        Part::File {
            name: "mask",
            filename: "m.png",
            content_type: "image/png",
            data: &mask,
        },
    ]);
    let response = app.send(edit_request(body)).await;
    assert_error(
        response,
        StatusCode::BAD_REQUEST,
        INVALID,
        Some("mask"),
        "20x40",
    )
    .await;
}

use futures_util::StreamExt as _;
