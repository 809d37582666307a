//! The playground: static files from `web/`, embedded at compile time.
//!
//! Everything the browser editor needs lives in this one table of assets, compiled into the
//! binary with `include_bytes!`, so `retouch serve` serves it with no files on disk, no CDN and
//! no build step. This module owns the HTTP side of it only: which path maps to which file,
//! the content types, the cache validators and the security headers. The page itself (HTML,
//! CSS, JS modules) is in `web/`.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Same origin only. Images may also be `data:` (results arrive as base64) and `blob:`
/// (the editor hands canvases to `<img>` and downloads through object URLs). No inline script
/// or style is allowed, so the page sets styles through the CSSOM only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; \
                   manifest-src 'self'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// Asset URLs carry no content hash (there is no build step to add one), so a long-lived or
/// `immutable` cache would pin old files after an upgrade. Every response is revalidated
/// instead, which costs one 304 per file thanks to the compile-time `ETag`.
const CACHE_POLICY: &str = "no-cache";

/// One embedded file.
#[derive(Debug)]
struct Asset {
    /// The path under `/playground/`.
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// A strong validator computed from `body` at compile time.
    etag: u64,
}

impl Asset {
    const fn new(name: &'static str, content_type: &'static str, body: &'static [u8]) -> Self {
        Self {
            name,
            content_type,
            body,
            etag: fnv1a(body),
        }
    }
}

/// FNV-1a, 64 bit: enough to tell two versions of a file apart, and `const`, so the validator
/// is baked into the binary rather than recomputed per request.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

const INDEX: Asset = Asset::new(
    "index.html",
    "text/html; charset=utf-8",
    include_bytes!("../../../web/index.html"),
);

/// The files reachable as `/playground/<name>`.
const ASSETS: &[Asset] = &[
    INDEX,
    Asset::new(
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../web/style.css"),
    ),
    Asset::new(
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/app.js"),
    ),
    Asset::new(
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/api.js"),
    ),
    Asset::new(
        "editor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/editor.js"),
    ),
    Asset::new(
        "gallery.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/gallery.js"),
    ),
    Asset::new(
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../../web/icon.svg"),
    ),
];

/// Routes for the playground page: `GET /`, `GET /playground` and `GET /playground/<asset>`
/// (`HEAD` too, which axum derives from `GET`). Stateless, so it merges into any app router.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/playground", get(index))
        .route("/playground/", get(index))
        .route("/playground/{asset}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve(&INDEX, &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(found) => serve(found, &headers),
        None => with_security_headers(
            (
                StatusCode::NOT_FOUND,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "not found\n",
            )
                .into_response(),
        ),
    }
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.etag);
    let response = if if_none_match(request, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let mut response = with_security_headers(response);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE_POLICY));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    response
}

/// Whether the request's `If-None-Match` names our current validator (or `*`), per RFC 9110
/// §13.1.2: a comma-separated list, weak validators compared weakly.
fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| {
            candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
        })
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(uri: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::builder().uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::empty()).unwrap();
        let response = router::<()>().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body.to_vec())
    }

    fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
        headers.get(name).unwrap().to_str().unwrap()
    }

    #[tokio::test]
    async fn index_is_served_as_html_at_root_and_playground() {
        for uri in ["/", "/playground", "/playground/", "/playground/index.html"] {
            let (status, headers, body) = get(uri, &[]).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
            assert_eq!(header(&headers, "cache-control"), "no-cache");
            let html = String::from_utf8(body).unwrap();
            assert!(html.starts_with("<!doctype html>"), "{uri}");
            assert!(html.contains(r#"src="/playground/app.js""#), "{uri}");
        }
    }

    #[tokio::test]
    async fn assets_are_served_with_their_content_types() {
        for (path, content_type, marker) in [
            ("style.css", "text/css; charset=utf-8", ":root"),
            ("app.js", "text/javascript; charset=utf-8", "import"),
            ("api.js", "text/javascript; charset=utf-8", "export"),
            ("editor.js", "text/javascript; charset=utf-8", "export"),
            ("gallery.js", "text/javascript; charset=utf-8", "export"),
            ("icon.svg", "image/svg+xml", "<svg"),
        ] {
            let (status, headers, body) = get(&format!("/playground/{path}"), &[]).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(header(&headers, "content-type"), content_type, "{path}");
            assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
            assert!(header(&headers, "etag").starts_with('"'), "{path}");
            assert!(String::from_utf8(body).unwrap().contains(marker), "{path}");
        }
    }

    #[tokio::test]
    async fn every_module_the_page_imports_is_served() {
        // A module missing from the table would only show up as a blank page in a browser.
        for asset in ASSETS {
            let Ok(text) = std::str::from_utf8(asset.body) else {
                continue;
            };
            for line in text.lines() {
                let Some(rest) = line.split(" from './").nth(1) else {
                    continue;
                };
                let imported = rest.split('\'').next().unwrap();
                let (status, _, _) = get(&format!("/playground/{imported}"), &[]).await;
                assert_eq!(status, StatusCode::OK, "{} imports {imported}", asset.name);
            }
        }
    }

    #[tokio::test]
    async fn unknown_assets_are_not_found() {
        for uri in [
            "/playground/nope.js",
            "/playground/APP.JS",
            "/playground/..%2FCargo.toml",
        ] {
            let (status, headers, _) = get(uri, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            assert!(header(&headers, "content-security-policy").contains("default-src 'none'"));
        }
        // Deeper paths never reach the table at all.
        let (status, _, _) = get("/playground/a/app.js", &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn pages_carry_a_strict_content_security_policy() {
        let (_, headers, _) = get("/", &[]).await;
        let csp = header(&headers, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(header(&headers, "x-frame-options"), "DENY");
    }

    #[tokio::test]
    async fn a_matching_etag_revalidates_with_304() {
        let (_, headers, _) = get("/playground/app.js", &[]).await;
        let etag = header(&headers, "etag").to_owned();

        let (status, headers, body) = get("/playground/app.js", &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(header(&headers, "etag"), etag);

        let listed = format!("\"0000000000000000\", W/{etag}");
        let (status, _, _) = get("/playground/app.js", &[("if-none-match", &listed)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);

        let (status, _, body) = get("/playground/app.js", &[("if-none-match", "\"stale\"")]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.is_empty());
    }

    #[test]
    fn etags_differ_between_files() {
        let mut tags: Vec<u64> = ASSETS.iter().map(|asset| asset.etag).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }
}
