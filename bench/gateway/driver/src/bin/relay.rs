//! The floor for a store-and-forward gateway: a minimal Rust relay (hyper in, reqwest out,
//! pooled connections) that reads the whole request body into one buffer, forwards those bytes
//! with the same content type to the upstream, and passes the answer back. No parsing, no
//! validation, no logging. Whatever a real gateway adds beyond this is its own cost; what this
//! adds over direct is the second hop every buffering gateway pays.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

#[derive(Debug, Parser)]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// Where requests go: the upstream's origin, e.g. http://127.0.0.1:9000 (the path is kept).
    #[arg(long)]
    upstream: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .build()?;
    let upstream = Arc::new(args.upstream.trim_end_matches('/').to_owned());
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (client, upstream) = (client.clone(), Arc::clone(&upstream));
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let (client, upstream) = (client.clone(), Arc::clone(&upstream));
                async move { Ok::<_, Infallible>(relay(&client, &upstream, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn relay(
    client: &reqwest::Client,
    upstream: &str,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let url = format!("{upstream}{}", req.uri().path());
    let content_type = req.headers().get(CONTENT_TYPE).cloned();
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return answer(StatusCode::BAD_REQUEST, error.to_string().into()),
    };
    let mut request = client.post(url).body(body);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return answer(StatusCode::BAD_GATEWAY, error.to_string().into()),
    };
    let status = response.status();
    match response.bytes().await {
        Ok(bytes) => answer(status, bytes),
        Err(error) => answer(StatusCode::BAD_GATEWAY, error.to_string().into()),
    }
}

fn answer(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
}
