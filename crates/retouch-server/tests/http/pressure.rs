//! Back-pressure and shutdown: a full engine queue answers 429, and requests still running when
//! the shutdown drain ends answer 503.

use std::time::Duration;

use http::StatusCode;

use crate::common::*;

fn big_edit() -> Vec<u8> {
    let bytes = png(&test_rgba(1024, 1024, true));
    multipart(&[
        Part::Text("prompt", "x"),
        Part::File {
            name: "image",
            filename: "a.png",
            content_type: "image/png",
            data: &bytes,
        },
    ])
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after() {
    let app = app_with(Options {
        workers: 1,
        queue: 0,
        ..Options::default()
    })
    .await;
    let first = {
        let router = app.router.clone();
        let request = edit_request(big_edit());
        tokio::spawn(async move { tower::ServiceExt::oneshot(router, request).await.unwrap() })
    };
    // Wait until the first edit holds the only slot.
    for _ in 0..500 {
        if app.state_in_flight() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let response = app.send(edit_request(big_edit())).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.headers()["x-should-retry"], "true");
    assert_error(
        response,
        StatusCode::TOO_MANY_REQUESTS,
        "requests",
        None,
        "busy",
    )
    .await;
    assert_eq!(first.await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn requests_running_when_the_drain_ends_get_503() {
    let app = app_with(Options {
        workers: 1,
        queue: 4,
        ..Options::default()
    })
    .await;
    let running = {
        let router = app.router.clone();
        let request = edit_request(big_edit());
        tokio::spawn(async move { tower::ServiceExt::oneshot(router, request).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.shutdown.expire();
    let response = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .unwrap()
        .unwrap();
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "server_error",
        None,
        "shutting down",
    )
    .await;
}
