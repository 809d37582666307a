//! `retouch serve`: start-up, the listener and shutdown.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use retouch_gateway::{Gateway, LocalEngine, LocalEngineConfig, UpstreamClient, UpstreamConfig};
use retouch_server::{Accounts, AppState, AuthOptions, Limits, RateLimits, ServeOptions, Shutdown};
use retouch_store::{ImageStore, LinkSigner, RateLimiter, StoreLocation};
use tokio::net::TcpListener;

use crate::config::FileConfig;
use crate::state::StateLocation;

/// Options of `retouch serve`. Each flag can also come from the environment variable shown,
/// and from the `[server]` table of `--config`; flags win over the file.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to bind.
    #[arg(long, env = "RETOUCH_HOST")]
    host: Option<IpAddr>,
    /// Port to bind; 0 picks a free one (the address is printed on stdout).
    #[arg(long, env = "RETOUCH_PORT")]
    port: Option<u16>,
    /// Directory for the state database (SQLite default), link-signing and master keys, and
    /// hosted images.
    #[arg(long, env = "RETOUCH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// State database (gateway keys, virtual keys, saved configs, usage): postgres://… to
    /// share it between replicas, or sqlite://…; default `<data-dir>/retouch.db`.
    #[arg(long, env = "RETOUCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Require a gateway key on /v1 even before any exists (otherwise auth starts with the
    /// first `retouch keys create`).
    #[arg(long, env = "RETOUCH_REQUIRE_AUTH")]
    require_auth: bool,
    /// How long a verified key (and "keys exist") is trusted before the database is asked
    /// again, in milliseconds, at most 5000. For tests.
    #[arg(long, env = "RETOUCH_AUTH_CACHE_MS", hide = true)]
    auth_cache_ms: Option<u64>,
    /// Redis (redis://[user:password@]host[:port][/db], or rediss://… for TLS) holding
    /// rate-limit budgets, so every replica pointed at it enforces one limit; default: in
    /// process.
    #[arg(long, env = "RETOUCH_REDIS_URL")]
    redis_url: Option<String>,
    /// PEM file of the CA that signed a rediss:// server's certificate; default: the system's
    /// trust store.
    #[arg(long, env = "RETOUCH_REDIS_CA_FILE")]
    redis_ca_file: Option<PathBuf>,
    /// Requests to /v1/images/edits each gateway key (or client address) may make per minute;
    /// default: no limit.
    #[arg(long, env = "RETOUCH_REQUESTS_PER_MINUTE")]
    requests_per_minute: Option<u32>,
    /// TOML configuration file.
    #[arg(long, env = "RETOUCH_CONFIG")]
    config: Option<PathBuf>,
    /// Base URL for hosted image links (e.g. https://images.example.com); default: the
    /// request's Host.
    #[arg(long, env = "RETOUCH_PUBLIC_URL")]
    public_url: Option<String>,
    /// Where result images are stored: a directory, or s3://bucket/prefix.
    #[arg(long, env = "RETOUCH_STORE")]
    store: Option<String>,
    /// How long hosted image links stay valid, in seconds.
    #[arg(long, env = "RETOUCH_LINK_TTL")]
    link_ttl: Option<u64>,
    /// Threads for the local engine (default: CPU cores).
    #[arg(long, env = "RETOUCH_WORKERS")]
    workers: Option<usize>,
    /// Local edits that may wait for a worker before new ones get 429.
    #[arg(long, env = "RETOUCH_QUEUE")]
    queue: Option<usize>,
    /// Largest image the local engine accepts, in pixels.
    #[arg(long, env = "RETOUCH_MAX_PIXELS")]
    max_pixels: Option<u64>,
    /// Largest request body, in bytes.
    #[arg(long, env = "RETOUCH_MAX_BODY_BYTES")]
    max_body_bytes: Option<u64>,
    /// Seconds a client may take to send its whole request body.
    #[arg(long, env = "RETOUCH_BODY_TIMEOUT")]
    body_timeout: Option<u64>,
    /// Seconds in-flight requests may keep running after SIGTERM/SIGINT.
    #[arg(long, env = "RETOUCH_SHUTDOWN_TIMEOUT")]
    shutdown_timeout: Option<u64>,
    /// Allow binding a non-loopback address while no gateway key is required.
    #[arg(long, env = "RETOUCH_INSECURE_NO_AUTH")]
    insecure_no_auth: bool,
    /// Log format.
    #[arg(long, env = "RETOUCH_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// How often expired hosted images are deleted.
const SWEEP_INTERVAL: Duration = Duration::from_secs(300);

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_tracing(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("retouch-io")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RETOUCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let gateway_settings = file
        .gateway_settings(|var| std::env::var(var).ok())
        .context("in the gateway tables of the config file")?;
    let state_location = StateLocation::resolve(args.data_dir, args.database_url, &file);
    let server = file.server;
    let host = args
        .host
        .or(server.host)
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let port = args.port.or(server.port).unwrap_or(8787);
    let insecure = args.insecure_no_auth || server.insecure_no_auth.unwrap_or(false);
    let data_dir = state_location.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let state_store = state_location.open().await?;
    let master = state_location.master_key()?;
    let auth = AuthOptions {
        require_auth: args.require_auth || server.require_auth.unwrap_or(false),
        cache_ttl: args
            .auth_cache_ms
            .map_or(AuthOptions::default().cache_ttl, |ms| {
                Duration::from_millis(ms.min(5000))
            }),
    };
    let accounts = Accounts::new(state_store.clone(), master, auth)
        .await
        .context("reading gateway keys from the state database")?;
    let auth_required = accounts.auth_required().await;
    if !host.is_loopback() && !insecure && !auth_required {
        bail!(
            "refusing to serve {host} without authentication: create a gateway key \
             (`retouch keys create --name NAME`) or pass --require-auth, bind a loopback \
             address, or pass --insecure-no-auth to expose the API to the network \
             unauthenticated"
        );
    }

    let signer = match std::env::var("RETOUCH_LINK_SECRET") {
        Ok(secret) if !secret.is_empty() => LinkSigner::from_secret(secret.as_bytes())
            .context("RETOUCH_LINK_SECRET is not a usable signing secret")?,
        Ok(_) | Err(_) => LinkSigner::load_or_create(&data_dir.join("link-signing.key"))
            .context("loading the link-signing key")?,
    };
    let location: StoreLocation = match args.store.or(server.store) {
        Some(spec) => spec.parse().context("parsing --store")?,
        None => StoreLocation::Local(data_dir.join("images")),
    };
    let ttl = Duration::from_secs(args.link_ttl.or(server.link_ttl).unwrap_or(3600));
    let store = ImageStore::open(&location, signer, ttl)
        .await
        .context("opening the image store")?;

    let mut engine = LocalEngineConfig::default();
    let engine_file = file.engine;
    if let Some(workers) = args.workers.or(engine_file.workers) {
        engine.workers = workers.max(1);
    }
    if let Some(queue) = args.queue.or(engine_file.queue) {
        engine.queue = queue;
    }
    if let Some(max_pixels) = args.max_pixels.or(engine_file.max_pixels) {
        engine.max_pixels = max_pixels;
    }
    let local = LocalEngine::new(engine).context("starting the local engine")?;

    let mut limits = Limits::default();
    if let Some(max) = args.max_body_bytes.or(server.max_body_bytes) {
        limits.max_body_bytes = max;
    }
    if let Some(secs) = args.body_timeout.or(server.body_timeout) {
        limits.body_timeout = Duration::from_secs(secs);
    }
    let rate_limits = rate_limits(
        args.redis_url.or(server.redis_url),
        args.redis_ca_file.or(server.redis_ca_file),
        args.requests_per_minute.or(file.limits.requests_per_minute),
    )
    .await?;
    let upstream = UpstreamClient::new(UpstreamConfig::default())
        .context("building the upstream HTTP client")?;
    tracing::info!(
        providers = gateway_settings.providers.len(),
        configs = gateway_settings.configs.len(),
        aliases = gateway_settings.models.len(),
        default_route = ?gateway_settings.default_route,
        "gateway routes loaded"
    );
    let shutdown = Shutdown::new();
    let state = AppState::new(
        Gateway::with_settings(local, upstream, gateway_settings),
        store.clone(),
        limits,
        shutdown.clone(),
        args.public_url.or(server.public_url),
    )
    .with_accounts(accounts)
    .with_rate_limits(rate_limits);
    let app = retouch_server::app(state);

    let listener = TcpListener::bind(SocketAddr::new(host, port))
        .await
        .with_context(|| format!("binding {host}:{port}"))?;
    let local_addr = listener.local_addr().context("reading the bound address")?;
    announce(local_addr)?;
    tracing::info!(
        address = %local_addr,
        data_dir = %data_dir.display(),
        state = %state_location.describe(),
        auth = if auth_required { "gateway key required" } else { "open (no gateway keys yet)" },
        "retouch is serving"
    );

    let sweeper = tokio::spawn(async move { store.sweep_every(SWEEP_INTERVAL).await });
    let mut options = ServeOptions::default();
    if let Some(secs) = args.shutdown_timeout.or(server.shutdown_timeout) {
        options.drain_timeout = Duration::from_secs(secs);
    }
    retouch_server::serve(listener, app, shutdown, options, stop_signal())
        .await
        .context("serving")?;
    sweeper.abort();
    state_store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The rate limits from flags and `[limits]`; a Redis URL is checked (`PING`) here, so a wrong
/// one stops start-up instead of silently leaving the limits in process.
async fn rate_limits(
    redis_url: Option<String>,
    redis_ca_file: Option<PathBuf>,
    requests_per_minute: Option<u32>,
) -> anyhow::Result<RateLimits> {
    if requests_per_minute == Some(0) {
        bail!("limits.requests_per_minute must be at least 1; leave it out for no limit");
    }
    let redis_url = redis_url.filter(|url| !url.is_empty());
    if redis_url.is_none() && redis_ca_file.is_some() {
        bail!("--redis-ca-file is set but there is no --redis-url to use it with");
    }
    let ca = redis_ca_file
        .as_deref()
        .map(|path| {
            std::fs::read(path).with_context(|| {
                format!(
                    "reading the Redis CA file {} (--redis-ca-file / RETOUCH_REDIS_CA_FILE / \
                     [server] redis_ca_file)",
                    path.display()
                )
            })
        })
        .transpose()?;
    let limiter = match redis_url {
        Some(url) => RateLimiter::connect_redis(&url, ca.as_deref())
            .await
            .context(
                "connecting to Redis (--redis-url / RETOUCH_REDIS_URL / [server] redis_url)",
            )?,
        None => RateLimiter::in_process(),
    };
    match (requests_per_minute, &limiter) {
        (Some(n), RateLimiter::Redis(redis)) => tracing::info!(
            requests_per_minute = n,
            redis = redis.endpoint(),
            "rate limits shared through Redis"
        ),
        (Some(n), RateLimiter::InProcess(_)) => tracing::info!(
            requests_per_minute = n,
            "rate limits kept in process (per replica)"
        ),
        (None, _) => {}
    }
    Ok(RateLimits {
        requests_per_minute,
        limiter,
    })
}

/// Prints the one line scripts wait for.
fn announce(address: SocketAddr) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{address}")?;
    stdout.flush()?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
