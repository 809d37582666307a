//! The production listener: HTTP/1.1 and HTTP/2 on one port, timeouts for slow clients, and a
//! bounded graceful drain.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::shutdown::Shutdown;

/// After the drain deadline, how long responses may take to finish writing.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Longest time a client may take to send the request line and headers. Default 10 s.
    pub header_timeout: Duration,
    /// How long in-flight requests may run after shutdown begins. Default 20 s; responses then
    /// get up to 5 s more to finish writing, so the process exits within 25 s.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(20),
        }
    }
}

/// Serves `app` on `listener` until `signal` resolves, then drains: new connections are refused,
/// in-flight requests get up to `drain_timeout` to finish, and those still running then answer
/// 503 (through [`Shutdown`]) before the connections close.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: Shutdown,
    options: ServeOptions,
    signal: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(30));
    let graceful = GracefulShutdown::new();
    let mut signal = std::pin::pin!(signal);

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut signal => break,
            () = shutdown.begun() => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer address, for per-client rate limits (`ConnectInfo`, as axum's own `serve`
        // provides it).
        let service = TowerToHyperService::new(app.clone().map_request(
            move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let connection = graceful.watch(connection.into_owned());
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection closed with an error");
            }
        });
    }

    drop(listener);
    shutdown.begin();
    tracing::info!(
        drain_secs = options.drain_timeout.as_secs(),
        "shutting down: draining in-flight requests"
    );
    let drained = graceful.shutdown();
    let mut drained = std::pin::pin!(drained);
    if tokio::time::timeout(options.drain_timeout, &mut drained)
        .await
        .is_err()
    {
        // Requests still running now answer 503; responses already being written (and those
        // 503s) get a bounded moment to reach their clients before the connections close.
        tracing::warn!("drain timed out; answering 503 to requests still running");
        shutdown.expire();
        if tokio::time::timeout(FLUSH_TIMEOUT, &mut drained)
            .await
            .is_err()
        {
            tracing::warn!("closing connections that were still writing");
        }
    }
    Ok(())
}
