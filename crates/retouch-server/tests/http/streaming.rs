//! `stream=true`: server-sent events of partial and completed images.

use http::StatusCode;

use crate::common::*;

fn events(text: &str) -> Vec<(String, serde_json::Value)> {
    text.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut name = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            (name, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn partial_images_then_completed_images() {
    let app = app().await;
    // Partials come from the pyramid levels before the last; 512 px has enough of them for two
    // (a smaller image or a thinner hole may have fewer, and gets fewer — OpenAI allows that).
    let bytes = png(&test_rgba(512, 512, true));
    let body = multipart(&[
        Part::Text("prompt", "x"),
        Part::Text("stream", "true"),
        Part::Text("partial_images", "2"),
        Part::Text("n", "2"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: &bytes,
        },
    ]);
    let response = app.send(edit_request(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["x-portkey-provider"], "local");
    let text = String::from_utf8(body_bytes(response).await.to_vec()).unwrap();
    let events = events(&text);
    let partials: Vec<_> = events
        .iter()
        .filter(|(n, _)| n == "image_edit.partial_image")
        .collect();
    let completed: Vec<_> = events
        .iter()
        .filter(|(n, _)| n == "image_edit.completed")
        .collect();
    assert_eq!(partials.len(), 2, "{text:.300}");
    assert_eq!(completed.len(), 2);
    assert_eq!(events.len(), 4);
    for (index, (_, event)) in partials.iter().enumerate() {
        assert_eq!(event["type"], "image_edit.partial_image");
        assert_eq!(event["partial_image_index"], index);
        assert_eq!(event["size"], "512x512");
    }
    for (name, event) in &events {
        assert_eq!(&event["type"], name.as_str());
        for key in [
            "b64_json",
            "created_at",
            "size",
            "quality",
            "background",
            "output_format",
        ] {
            assert!(event.get(key).is_some(), "{name} lacks {key}");
        }
    }
    assert!(completed[0].1["usage"]["total_tokens"].as_u64().is_some());
    // With n > 1 the images run in parallel and OpenAI defines no order between a partial of one
    // image and the completion of another; the stream ends with a completed image.
    assert_eq!(events.last().unwrap().0, "image_edit.completed");
}

#[tokio::test]
async fn a_single_image_streams_its_partials_before_the_result() {
    let app = app().await;
    let bytes = png(&test_rgba(256, 256, true));
    let body = multipart(&[
        Part::Text("prompt", "x"),
        Part::Text("stream", "true"),
        Part::Text("partial_images", "3"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: &bytes,
        },
    ]);
    let response = app.send(edit_request(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(body_bytes(response).await.to_vec()).unwrap();
    let names: Vec<String> = events(&text).into_iter().map(|(name, _)| name).collect();
    let (last, partials) = names.split_last().unwrap();
    assert_eq!(last, "image_edit.completed");
    assert!(!partials.is_empty() && partials.len() <= 3, "{names:?}");
    assert!(
        partials.iter().all(|n| n == "image_edit.partial_image"),
        "{names:?}"
    );
}

#[tokio::test]
async fn errors_before_the_stream_starts_are_plain_json() {
    let app = app().await;
    let body = multipart(&[
        Part::Text("prompt", "x"),
        Part::Text("stream", "true"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: b"\x89PNG\r\n\x1a\ncorrupt",
        },
    ]);
    let response = app.send(edit_request(body)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["content-type"], "application/json");
}
