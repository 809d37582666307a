//! `response_format=url`: hosted results behind signed, expiring links.

use axum::body::Body;
use http::{Request, StatusCode};

use crate::common::*;

async fn edit_for_url(app: &TestApp) -> String {
    let bytes = png(&test_rgba(64, 48, true));
    let body = multipart(&[
        Part::Text("prompt", "x"),
        Part::Text("response_format", "url"),
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
    let url = json["data"][0]["url"].as_str().expect("url").to_owned();
    assert!(json["data"][0].get("b64_json").is_none());
    url
}

fn path_of(url: &str) -> String {
    let rest = url
        .strip_prefix("http://127.0.0.1:8787")
        .unwrap_or_else(|| panic!("unexpected link {url}"));
    rest.to_owned()
}

async fn get(app: &TestApp, path: &str) -> http::Response<Body> {
    app.send(Request::get(path).body(Body::empty()).unwrap())
        .await
}

#[tokio::test]
async fn a_link_serves_the_png_and_tampering_is_refused() {
    let app = app().await;
    let url = edit_for_url(&app).await;
    let path = path_of(&url);
    assert!(
        path.starts_with("/images/") && path.contains("expires=") && path.contains("signature="),
        "{path}"
    );

    let response = get(&app, &path).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    let image = decode(&body_bytes(response).await);
    assert_eq!(image.dimensions(), (64, 48));

    // A flipped signature character.
    let tampered = {
        let at = path.find("signature=").unwrap() + "signature=".len();
        let mut bytes = path.clone().into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(bytes).unwrap()
    };
    assert_eq!(get(&app, &tampered).await.status(), StatusCode::FORBIDDEN);
    // A later expiry with the old signature.
    let (base, query) = path.split_once('?').unwrap();
    let longer: String = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some(("expires", v)) => format!("expires={}", v.parse::<u64>().unwrap() + 3600),
            _ => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        get(&app, &format!("{base}?{longer}")).await.status(),
        StatusCode::FORBIDDEN
    );
    // No signature at all.
    assert_eq!(get(&app, base).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn path_tricks_never_leave_the_store() {
    let app = app().await;
    std::fs::write(app.dir.path().join("secret.txt"), "top secret").unwrap();
    let url = edit_for_url(&app).await;
    let query = path_of(&url).split_once('?').unwrap().1.to_owned();
    for file in [
        "..%2Fsecret.txt",
        "%2e%2e%2flink-signing.key",
        "..%5Csecret.txt",
        "link-signing.key",
        "%00.png",
    ] {
        let response = get(&app, &format!("/images/{file}?{query}")).await;
        assert!(
            matches!(
                response.status(),
                StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
            ),
            "{file}: {}",
            response.status()
        );
        let body = body_bytes(response).await;
        assert!(!String::from_utf8_lossy(&body).contains("top secret"));
    }
    let response = get(&app, &format!("/images/../secret.txt?{query}")).await;
    assert!(matches!(
        response.status(),
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));
}
