//! The one SSRF guard every outbound URL goes through (provider base URLs, `custom_host`,
//! downloads of result URLs).
//!
//! Two layers, because either alone can be bypassed:
//! 1. [`SsrfPolicy::check_url`] before a request is built: the scheme must be `http`/`https`, and
//!    a host written as an IP literal (which the HTTP client never resolves) is checked directly.
//! 2. [`GuardedResolver`], installed as the HTTP client's DNS resolver: every hostname is resolved
//!    here, every address is checked, and only checked addresses are handed to the connector. The
//!    check and the connection therefore use the same IP, so a DNS answer that changes between
//!    "check" and "connect" (rebinding) cannot slip through.
//!
//! Loopback is allowed by default (local IOPaint/A1111, mocks); private, link-local (including the
//! cloud metadata address 169.254.169.254), unspecified, multicast, broadcast, shared (CGNAT) and
//! reserved ranges are refused, also when embedded in IPv6 (IPv4-mapped, NAT64, 6to4). Operators
//! can allow CIDRs or host names explicitly.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use retouch_api::ApiError;
use url::{Host, Url};

/// Why an address is not reachable under the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockedRange {
    /// 127.0.0.0/8, ::1 (only when loopback is disallowed).
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// The cloud metadata endpoint 169.254.169.254 (and fd00:ec2::254).
    Metadata,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// 224/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 100.64/10 (carrier-grade NAT).
    SharedAddressSpace,
    /// 240/4, 192.0.0/24, documentation and benchmarking ranges.
    Reserved,
}

impl BlockedRange {
    fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "a loopback address",
            Self::Private => "a private network address",
            Self::LinkLocal => "a link-local address",
            Self::Metadata => "the cloud metadata address",
            Self::Unspecified => "an unspecified address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::SharedAddressSpace => "a shared (carrier-grade NAT) address",
            Self::Reserved => "a reserved address",
        }
    }
}

/// An outbound URL the policy refuses. Its text names the host and the reason, never a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsrfError {
    /// The host as written in the URL.
    pub host: String,
    /// Why it was refused.
    pub reason: SsrfReason,
}

/// The reason behind an [`SsrfError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsrfReason {
    /// The scheme is not `http` or `https`.
    Scheme(String),
    /// The URL has no host.
    NoHost,
    /// The host is, or resolves to, a refused address.
    Address {
        /// The offending address.
        ip: IpAddr,
        /// Its range.
        range: BlockedRange,
    },
    /// The host did not resolve to any address.
    Unresolvable(String),
}

impl fmt::Display for SsrfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            SsrfReason::Scheme(scheme) => write!(
                f,
                "Refused to connect to '{}': scheme '{scheme}' is not allowed (use http or https).",
                self.host
            ),
            SsrfReason::NoHost => write!(
                f,
                "Refused to connect: the URL '{}' has no host.",
                self.host
            ),
            SsrfReason::Address { ip, range } => write!(
                f,
                "Refused to connect to '{}': it resolves to {} ({ip}). Ask the operator to \
                 allow-list it if it is meant to be reachable.",
                self.host,
                range.describe()
            ),
            SsrfReason::Unresolvable(why) => {
                write!(f, "Could not resolve the host '{}': {why}.", self.host)
            }
        }
    }
}

impl std::error::Error for SsrfError {}

impl SsrfError {
    /// The client-facing error: 400 naming the host (an unresolvable host is an upstream
    /// failure, 502, since DNS may recover).
    pub fn to_api_error(&self, provider: &str) -> ApiError {
        match &self.reason {
            SsrfReason::Unresolvable(_) => ApiError::bad_gateway(provider, self.to_string())
                .with_provider(provider)
                .with_detail(self.to_string()),
            SsrfReason::Scheme(_) | SsrfReason::NoHost | SsrfReason::Address { .. } => {
                ApiError::invalid_request(self.to_string(), None)
                    .with_code("invalid_custom_host")
                    .with_provider(provider)
            }
        }
    }
}

/// Which outbound addresses are allowed.
#[derive(Debug, Clone)]
pub struct SsrfPolicy {
    allow_loopback: bool,
    allowed_nets: Vec<IpNet>,
    allowed_hosts: Vec<String>,
}

impl Default for SsrfPolicy {
    /// Loopback allowed, nothing else non-public.
    fn default() -> Self {
        Self {
            allow_loopback: true,
            allowed_nets: Vec::new(),
            allowed_hosts: Vec::new(),
        }
    }
}

impl SsrfPolicy {
    /// Whether loopback addresses are allowed (default: yes).
    #[must_use]
    pub fn allow_loopback(mut self, allow: bool) -> Self {
        self.allow_loopback = allow;
        self
    }

    /// Allows every address in `net`, whatever its range (e.g. `10.1.2.0/24` for an in-cluster
    /// IOPaint).
    #[must_use]
    pub fn allow_net(mut self, net: IpNet) -> Self {
        self.allowed_nets.push(net);
        self
    }

    /// Allows a host name (exact, case-insensitive) whatever it resolves to.
    #[must_use]
    pub fn allow_host(mut self, host: &str) -> Self {
        self.allowed_hosts
            .push(host.trim_end_matches('.').to_ascii_lowercase());
        self
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed_hosts.contains(&host)
    }

    /// Checks one address: `Ok` when it may be connected to.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), BlockedRange> {
        if self.allowed_nets.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        match classify(ip) {
            None => Ok(()),
            Some(BlockedRange::Loopback) if self.allow_loopback => Ok(()),
            Some(range) => Err(range),
        }
    }

    /// Checks a URL before any request is made: scheme, host present, and IP-literal hosts.
    /// Host names are checked when they are resolved, by [`GuardedResolver`].
    pub fn check_url(&self, url: &Url) -> Result<(), SsrfError> {
        let host_text = url.host_str().unwrap_or_default().to_owned();
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SsrfError {
                host: host_text,
                reason: SsrfReason::Scheme(url.scheme().to_owned()),
            });
        }
        let ip = match url.host() {
            None => {
                return Err(SsrfError {
                    host: url.to_string(),
                    reason: SsrfReason::NoHost,
                });
            }
            Some(Host::Domain(_)) => return Ok(()),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        };
        if self.host_allowed(&host_text) {
            return Ok(());
        }
        self.check_ip(ip).map_err(|range| SsrfError {
            host: host_text,
            reason: SsrfReason::Address { ip, range },
        })
    }

    /// Checks every address a host name resolved to; one refused address refuses the host (a
    /// name that mixes public and private answers is not one to trust).
    pub fn check_resolved(&self, host: &str, addrs: &[IpAddr]) -> Result<(), SsrfError> {
        if addrs.is_empty() {
            return Err(SsrfError {
                host: host.to_owned(),
                reason: SsrfReason::Unresolvable("no addresses".to_owned()),
            });
        }
        if self.host_allowed(host) {
            return Ok(());
        }
        for ip in addrs {
            self.check_ip(*ip).map_err(|range| SsrfError {
                host: host.to_owned(),
                reason: SsrfReason::Address { ip: *ip, range },
            })?;
        }
        Ok(())
    }
}

/// The range a non-public address falls in; `None` for a public address.
pub fn classify(ip: IpAddr) -> Option<BlockedRange> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<BlockedRange> {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some(BlockedRange::Metadata)
    } else if ip.is_loopback() {
        Some(BlockedRange::Loopback)
    } else if ip.is_private() {
        Some(BlockedRange::Private)
    } else if ip.is_link_local() {
        Some(BlockedRange::LinkLocal)
    } else if a == 0 {
        Some(BlockedRange::Unspecified)
    } else if ip.is_broadcast() {
        Some(BlockedRange::Broadcast)
    } else if ip.is_multicast() {
        Some(BlockedRange::Multicast)
    } else if a == 100 && (64..128).contains(&b) {
        Some(BlockedRange::SharedAddressSpace)
    } else if a >= 240
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
    {
        Some(BlockedRange::Reserved)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<BlockedRange> {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(BlockedRange::Loopback)
    } else if ip.is_unspecified() {
        Some(BlockedRange::Unspecified)
    } else if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some(BlockedRange::Metadata)
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        Some(BlockedRange::Private)
    } else if first & 0xffc0 == 0xfe80 {
        Some(BlockedRange::LinkLocal)
    } else if first & 0xff00 == 0xff00 {
        Some(BlockedRange::Multicast)
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some(BlockedRange::Reserved)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if (s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified())
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        Some(tail())
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else {
        None
    }
}

/// Host-name lookups: the system resolver, with optional pinned answers (like curl's
/// `--resolve`) that go through the same checks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lookup {
    pinned: HashMap<String, Vec<IpAddr>>,
}

impl Lookup {
    pub(crate) fn with_pinned(pinned: &[(String, Vec<IpAddr>)]) -> Self {
        let pinned = pinned
            .iter()
            .map(|(host, addrs)| {
                (
                    host.trim_end_matches('.').to_ascii_lowercase(),
                    addrs.clone(),
                )
            })
            .collect();
        Self { pinned }
    }

    async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, SsrfError> {
        let key = host.trim_end_matches('.').to_ascii_lowercase();
        if let Some(addrs) = self.pinned.get(&key) {
            return Ok(addrs.clone());
        }
        let unresolvable = |why: String| SsrfError {
            host: host.to_owned(),
            reason: SsrfReason::Unresolvable(why),
        };
        let addrs = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| unresolvable(e.to_string()))?;
        let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
        ips.dedup();
        Ok(ips)
    }
}

/// The HTTP client's DNS resolver: resolves, checks every address with the policy, and returns
/// only checked addresses to the connector.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    policy: Arc<SsrfPolicy>,
    lookup: Arc<Lookup>,
}

impl GuardedResolver {
    pub(crate) fn new(policy: Arc<SsrfPolicy>, lookup: Lookup) -> Self {
        Self {
            policy,
            lookup: Arc::new(lookup),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let lookup = Arc::clone(&self.lookup);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let ips = lookup.lookup(&host).await?;
            policy.check_resolved(&host, &ips)?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Finds an [`SsrfError`] in an error's source chain (the HTTP client wraps resolver errors).
pub(crate) fn find_ssrf_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a SsrfError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<SsrfError>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_are_classified() {
        assert_eq!(classify(ip("8.8.8.8")), None);
        assert_eq!(classify(ip("2606:4700::1111")), None);
        assert_eq!(classify(ip("10.1.2.3")), Some(BlockedRange::Private));
        assert_eq!(classify(ip("172.31.255.1")), Some(BlockedRange::Private));
        assert_eq!(classify(ip("172.32.0.1")), None);
        assert_eq!(classify(ip("192.168.1.1")), Some(BlockedRange::Private));
        assert_eq!(
            classify(ip("169.254.169.254")),
            Some(BlockedRange::Metadata)
        );
        assert_eq!(classify(ip("169.254.1.1")), Some(BlockedRange::LinkLocal));
        assert_eq!(
            classify(ip("100.64.0.1")),
            Some(BlockedRange::SharedAddressSpace)
        );
        assert_eq!(classify(ip("100.128.0.1")), None);
        assert_eq!(classify(ip("0.0.0.0")), Some(BlockedRange::Unspecified));
        assert_eq!(
            classify(ip("255.255.255.255")),
            Some(BlockedRange::Broadcast)
        );
        assert_eq!(classify(ip("224.0.0.1")), Some(BlockedRange::Multicast));
        assert_eq!(classify(ip("240.0.0.1")), Some(BlockedRange::Reserved));
        assert_eq!(classify(ip("127.0.0.1")), Some(BlockedRange::Loopback));
        assert_eq!(classify(ip("::1")), Some(BlockedRange::Loopback));
        assert_eq!(classify(ip("::")), Some(BlockedRange::Unspecified));
        assert_eq!(classify(ip("fd12::1")), Some(BlockedRange::Private));
        assert_eq!(classify(ip("fe80::1")), Some(BlockedRange::LinkLocal));
        assert_eq!(classify(ip("ff02::1")), Some(BlockedRange::Multicast));
        assert_eq!(classify(ip("fd00:ec2::254")), Some(BlockedRange::Metadata));
        assert_eq!(classify(ip("::ffff:10.0.0.1")), Some(BlockedRange::Private));
        assert_eq!(
            classify(ip("::ffff:169.254.169.254")),
            Some(BlockedRange::Metadata)
        );
        assert_eq!(
            classify(ip("64:ff9b::a9fe:a9fe")),
            Some(BlockedRange::Metadata)
        );
        assert_eq!(
            classify(ip("2002:c0a8:0101::1")),
            Some(BlockedRange::Private)
        );
        assert_eq!(classify(ip("::ffff:8.8.8.8")), None);
    }

    #[test]
    fn policy_allows_loopback_by_default_and_honours_allow_lists() {
        let policy = SsrfPolicy::default();
        assert!(policy.check_ip(ip("127.0.0.1")).is_ok());
        assert!(policy.check_ip(ip("::1")).is_ok());
        assert_eq!(policy.check_ip(ip("10.0.0.5")), Err(BlockedRange::Private));
        let strict = SsrfPolicy::default().allow_loopback(false);
        assert_eq!(
            strict.check_ip(ip("127.0.0.1")),
            Err(BlockedRange::Loopback)
        );
        let cluster = SsrfPolicy::default().allow_net("10.1.0.0/16".parse().unwrap());
        assert!(cluster.check_ip(ip("10.1.2.3")).is_ok());
        assert!(cluster.check_ip(ip("10.2.0.1")).is_err());
        let named = SsrfPolicy::default().allow_host("IOPaint.internal");
        assert!(
            named
                .check_resolved("iopaint.internal.", &[ip("10.9.9.9")])
                .is_ok()
        );
        assert!(
            named
                .check_resolved("other.internal", &[ip("10.9.9.9")])
                .is_err()
        );
    }

    #[test]
    fn urls_are_checked_for_scheme_and_literal_addresses() {
        let policy = SsrfPolicy::default();
        let check = |u: &str| policy.check_url(&Url::parse(u).unwrap());
        assert!(check("https://api.openai.com/v1").is_ok());
        assert!(check("http://127.0.0.1:8080").is_ok());
        let err = check("http://169.254.169.254/latest/meta-data").unwrap_err();
        assert!(err.to_string().contains("169.254.169.254"), "{err}");
        assert!(err.to_string().contains("metadata"), "{err}");
        assert!(check("http://[::ffff:a00:1]/").is_err());
        // WHATWG parsing normalises odd encodings: 0x0a.1 is 10.0.0.1.
        assert!(check("http://0x0a.1/").is_err());
        assert!(check("http://0/").is_err());
        assert!(matches!(
            check("file:///etc/passwd").unwrap_err().reason,
            SsrfReason::Scheme(_)
        ));
        assert!(matches!(
            check("ftp://example.com/").unwrap_err().reason,
            SsrfReason::Scheme(_)
        ));
        let api = check("http://10.0.0.5/v1")
            .unwrap_err()
            .to_api_error("openai");
        assert_eq!(api.status, 400);
        assert!(api.message.contains("10.0.0.5"));
    }

    #[test]
    fn a_host_with_one_private_answer_is_refused() {
        let policy = SsrfPolicy::default();
        let err = policy
            .check_resolved("mixed.example", &[ip("93.184.216.34"), ip("10.0.0.1")])
            .unwrap_err();
        assert!(err.to_string().contains("mixed.example"));
        assert!(policy.check_resolved("empty.example", &[]).is_err());
    }

    #[tokio::test]
    async fn resolver_refuses_private_answers_and_passes_public_ones() {
        let lookup = Lookup::with_pinned(&[
            ("internal.test".to_owned(), vec![ip("10.0.0.7")]),
            ("public.test".to_owned(), vec![ip("93.184.216.34")]),
        ]);
        let resolver = GuardedResolver::new(Arc::new(SsrfPolicy::default()), lookup);
        let refused = resolver.resolve("internal.test".parse().unwrap()).await;
        let error = match refused {
            Ok(_) => panic!("private answer accepted"),
            Err(error) => error,
        };
        let ssrf = find_ssrf_error(error.as_ref()).unwrap();
        assert_eq!(ssrf.host, "internal.test");
        let addrs: Vec<_> = resolver
            .resolve("public.test".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs, vec![SocketAddr::new(ip("93.184.216.34"), 0)]);
    }
}
