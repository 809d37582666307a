//! The SSRF guard end to end: refused before any connection for private, link-local and
//! metadata addresses (literal or resolved), allowed for loopback, and the resolved address is
//! the one connected to.

use std::net::IpAddr;

use retouch_gateway::{
    Provider, ProviderTarget, Secret, SsrfPolicy, UpstreamClient, UpstreamConfig,
};
use retouch_test_support::{MockKind, MockUpstream};
use url::Url;

use crate::common::{client, form, parse};

fn target_at(base: &str) -> ProviderTarget {
    ProviderTarget::new(
        Some(Url::parse(base).expect("url")),
        Some(Secret::new("sk-secret-ssrf-0000")),
    )
}

async fn refused(client: &UpstreamClient, base: &str) -> retouch_api::ApiError {
    let (request, edit) = parse(form(1));
    Provider::OpenAi
        .edit(&request, &edit, &target_at(base), client)
        .await
        .expect_err("refused")
}

#[tokio::test]
async fn private_link_local_and_metadata_literals_are_refused() {
    let client = client();
    for (base, host) in [
        ("http://10.0.0.5/v1", "10.0.0.5"),
        ("http://192.168.1.20:8080/v1", "192.168.1.20"),
        ("http://169.254.169.254/latest", "169.254.169.254"),
        ("http://[fd00:ec2::254]/v1", "[fd00:ec2::254]"),
        ("http://[::ffff:172.16.0.1]/v1", "[::ffff:ac10:1]"),
        ("http://100.64.1.1/v1", "100.64.1.1"),
        ("http://0.0.0.0:8080/v1", "0.0.0.0"),
    ] {
        let error = refused(&client, base).await;
        assert_eq!(error.status, 400, "{base}: {error:?}");
        assert!(error.message.contains(host), "{base}: {}", error.message);
        assert!(!error.message.contains("sk-secret"), "{}", error.message);
    }
    let metadata = refused(&client, "http://169.254.169.254/").await;
    assert!(
        metadata.message.contains("metadata"),
        "{}",
        metadata.message
    );
}

#[tokio::test]
async fn non_http_schemes_are_refused() {
    let error = refused(&client(), "file:///etc/passwd").await;
    assert_eq!(error.status, 400);
}

fn pinned_client(host: &str, ip: &str, policy: SsrfPolicy) -> UpstreamClient {
    let ip: IpAddr = ip.parse().expect("ip");
    UpstreamClient::new(UpstreamConfig {
        ssrf: policy,
        pinned_hosts: vec![(host.to_owned(), vec![ip])],
        ..UpstreamConfig::default()
    })
    .expect("client")
}

#[tokio::test]
async fn a_host_name_resolving_to_a_private_address_is_refused() {
    let client = pinned_client("images.internal.example", "10.1.2.3", SsrfPolicy::default());
    let error = refused(&client, "http://images.internal.example:9/v1").await;
    assert_eq!(error.status, 400, "{error:?}");
    assert!(
        error.message.contains("images.internal.example"),
        "{}",
        error.message
    );
    assert!(error.message.contains("10.1.2.3"), "{}", error.message);
}

#[tokio::test]
async fn a_host_name_resolving_to_loopback_connects_to_that_address() {
    let mock = MockUpstream::start(MockKind::OpenAi).await;
    let port = mock.addr().port();
    let client = pinned_client("mock.test", "127.0.0.1", SsrfPolicy::default());
    let mut target = target_at(&format!("http://mock.test:{port}/v1"));
    target.api_key = mock.api_key().map(Secret::new);
    let (request, edit) = parse(form(1));
    Provider::OpenAi
        .edit(&request, &edit, &target, &client)
        .await
        .expect("loopback allowed");
    assert_eq!(mock.edit_calls(), 1);
    assert_eq!(
        mock.requests()[0].header("host"),
        Some(format!("mock.test:{port}").as_str())
    );
}

#[tokio::test]
async fn loopback_can_be_disallowed_and_nets_allowed() {
    let mock = MockUpstream::start(MockKind::OpenAi).await;
    let strict = UpstreamClient::new(UpstreamConfig {
        ssrf: SsrfPolicy::default().allow_loopback(false),
        ..UpstreamConfig::default()
    })
    .expect("client");
    let error = refused(&strict, &mock.base_url()).await;
    assert_eq!(error.status, 400);
    assert_eq!(mock.edit_calls(), 0, "refused before connecting");

    let allowed = UpstreamClient::new(UpstreamConfig {
        ssrf: SsrfPolicy::default()
            .allow_loopback(false)
            .allow_net("127.0.0.0/8".parse().expect("net")),
        ..UpstreamConfig::default()
    })
    .expect("client");
    let mut target = target_at(&mock.base_url());
    target.api_key = mock.api_key().map(Secret::new);
    let (request, edit) = parse(form(1));
    Provider::OpenAi
        .edit(&request, &edit, &target, &allowed)
        .await
        .expect("allow-listed");
}

#[tokio::test]
async fn a_redirect_to_the_metadata_address_is_not_followed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let reply = "HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/latest/meta-data\r\n\
                         content-length: 0\r\nconnection: close\r\n\r\n";
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    let error = client()
        .download("openai", &format!("http://127.0.0.1:{port}/result.png"))
        .await
        .expect_err("redirect refused");
    assert_eq!(error.status, 400, "{error:?}");
    assert!(
        error.message.contains("169.254.169.254"),
        "{}",
        error.message
    );
}
