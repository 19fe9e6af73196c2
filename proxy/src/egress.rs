//! Scripts' `fetch()` to hosts this node does not serve: a pooled HTTP/1.1 and
//! HTTP/2 client (hyper-util; TLS by hyper-rustls, verified against the platform's
//! roots; ALPN picks the protocol) behind the site's egress policy
//! (`sites[].egress`).
//!
//! The policy is checked twice: the host against the allow list before anything is
//! sent, and every address the connector is about to connect to — after DNS
//! resolution, so a public name that resolves to a loopback, private, link-local or
//! metadata address is refused like the address itself (SSRF, DNS rebinding: the
//! address checked is the address connected to). A redirect is a new `fetch()` from
//! the script's side, checked again. Connections made under `private: allow` live in
//! their own pool, never reused for a site that denies private addresses.

use crate::resolve::Resolver;
use bytes::Bytes;
use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use outpost_scripting::{Body, BodyStream, FetchRequest, FetchResponse, ScriptError};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Connecting to one address gives up after this long (the next address is tried).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle egress connections kept per host.
const MAX_IDLE_PER_HOST: usize = 32;

type ReqBody = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;
type Https = hyper_rustls::HttpsConnector<Connector>;

/// The two clients: one that refuses private addresses, one that allows them.
struct Clients {
    strict: Client<Https, ReqBody>,
    open: Client<Https, ReqBody>,
}

static CLIENTS: OnceLock<Result<Clients, String>> = OnceLock::new();

fn clients(resolver: &Arc<Resolver>) -> Result<&'static Clients, ScriptError> {
    CLIENTS
        .get_or_init(|| {
            let build = |private: bool| -> Result<Client<Https, ReqBody>, String> {
                let tls = hyper_rustls::HttpsConnectorBuilder::new()
                    .try_with_platform_verifier()
                    .map_err(|e| format!("platform certificate verifier: {e}"))?
                    .https_or_http()
                    .enable_http1()
                    .enable_http2()
                    .wrap_connector(Connector {
                        resolver: resolver.clone(),
                        private,
                    });
                Ok(Client::builder(TokioExecutor::new())
                    .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
                    .pool_idle_timeout(Duration::from_secs(60))
                    .build(tls))
            };
            Ok(Clients {
                strict: build(false)?,
                open: build(true)?,
            })
        })
        .as_ref()
        .map_err(|e| ScriptError::subrequest(format!("fetch() to other hosts is unavailable: {e}")))
}

/// A connection the policy refused: the message a script sees.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// TCP to a URL's host: resolved by Outpost's resolver, each address checked.
#[derive(Clone)]
struct Connector {
    resolver: Arc<Resolver>,
    private: bool,
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let me = self.clone();
        Box::pin(async move {
            let host = uri.host().ok_or("URL without a host")?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                });
            let addrs = match host.parse::<IpAddr>() {
                Ok(ip) => vec![SocketAddr::new(ip, port)],
                Err(_) => me.resolver.addresses(host, port).await?,
            };
            let mut last: Option<Self::Error> = None;
            for addr in addrs {
                if !me.private
                    && let Some(kind) = restricted(addr.ip())
                {
                    last = Some(Box::new(Refused(format!(
                        "{host} resolves to {} ({kind}); sites[].egress.private is deny",
                        addr.ip()
                    ))));
                    continue;
                }
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                    Ok(Ok(s)) => {
                        s.set_nodelay(true)?;
                        return Ok(TokioIo::new(s));
                    }
                    Ok(Err(e)) => last = Some(Box::new(e)),
                    Err(_) => last = Some(format!("connect to {addr} timed out").into()),
                }
            }
            Err(last.unwrap_or_else(|| "no address to connect to".into()))
        })
    }
}

/// What kind of address a script may not reach by default, if `ip` is one: loopback,
/// private (RFC 1918, unique local), link-local (which holds the cloud metadata
/// address 169.254.169.254), shared (CGNAT), unspecified, multicast, broadcast,
/// benchmarking and documentation ranges — also inside IPv4-mapped and NAT64 IPv6.
pub(crate) fn restricted(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("a private address")
            } else if v4.is_link_local() {
                Some("link-local, where cloud metadata lives")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some("shared address space")
            } else if o[0] == 0 || v4.is_broadcast() || v4.is_multicast() || o[0] >= 240 {
                Some("not a unicast address")
            } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
                Some("a benchmarking address")
            } else if matches!(
                (o[0], o[1], o[2]),
                (192, 0, 0 | 2) | (198, 51, 100) | (203, 0, 113)
            ) {
                Some("a reserved address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return restricted(IpAddr::V4(v4));
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let v4 = std::net::Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                );
                return restricted(IpAddr::V4(v4));
            }
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("not a unicast address")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("a private address")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("a documentation address")
            } else {
                None
            }
        }
    }
}

/// Sends a script's request to another host under `policy` (`trusted`: the URL is
/// one of the site's own origins, which the operator configured: no allow list, and
/// private addresses allowed); `request_id` names the request in the log line of a
/// refusal.
pub(crate) async fn fetch(
    resolver: Arc<Resolver>,
    (policy, trusted): (&outpost_config::Egress, bool),
    mut request: FetchRequest,
    request_id: &str,
) -> Result<FetchResponse, ScriptError> {
    let url = request.url.clone();
    let refuse = |why: String| {
        tracing::warn!(request_id, url = %url, reason = %why, "fetch() refused by the egress policy");
        ScriptError::subrequest(format!("fetch to {url} refused: {why}"))
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ScriptError::subrequest(format!(
            "fetch to {url}: only http: and https: URLs can be fetched"
        )));
    }
    let host = url
        .host_str()
        .map(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase()
        })
        .ok_or_else(|| ScriptError::subrequest(format!("fetch to {url}: the URL has no host")))?;
    if !trusted && !policy.allows_host(&host) {
        return Err(refuse(format!(
            "{host} is not in this site's sites[].egress.allow"
        )));
    }
    let clients = clients(&resolver)?;
    let client = if policy.private || trusted {
        &clients.open
    } else {
        &clients.strict
    };
    let body: ReqBody = match request.body.take() {
        None => http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
        Some(Body::Bytes(b)) => http_body_util::Full::new(b)
            .map_err(|never| match never {})
            .boxed_unsync(),
        Some(Body::Stream(s)) => {
            let length = s.length();
            if let Some(n) = length {
                request
                    .headers
                    .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(n));
            }
            let frames = futures_util::stream::unfold(s, |mut s| async move {
                let chunk = s.next().await?;
                Some((
                    chunk
                        .map(hyper::body::Frame::data)
                        .map_err(|e| std::io::Error::other(e.to_string())),
                    s,
                ))
            });
            http_body_util::StreamBody::new(frames).boxed_unsync()
        }
    };
    let mut req = http::Request::new(body);
    *req.method_mut() = request.method.clone();
    *req.uri_mut() = url
        .as_str()
        .parse()
        .map_err(|e| ScriptError::subrequest(format!("fetch to {url}: {e}")))?;
    for (name, value) in &request.headers {
        // The URL names the host; framing is the client's to set.
        if name == http::header::HOST || name == http::header::TRANSFER_ENCODING {
            continue;
        }
        req.headers_mut().append(name.clone(), value.clone());
    }
    let resp = match client.request(req).await {
        Ok(r) => r,
        Err(e) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = source {
                if let Some(r) = err.downcast_ref::<Refused>() {
                    return Err(refuse(r.0.clone()));
                }
                source = err.source();
            }
            return Err(ScriptError::subrequest(format!(
                "fetch to {url} failed: {}",
                chain(&e)
            )));
        }
    };
    let (head, incoming) = resp.into_parts();
    let stream = incoming
        .into_data_stream()
        .map_err(move |e| ScriptError::subrequest(format!("reading the response of {url}: {e}")));
    Ok(FetchResponse {
        head,
        body: BodyStream::new(stream),
    })
}

/// An error and its causes, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::restricted;

    #[test]
    fn private_and_metadata_addresses_are_restricted() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "::",
        ] {
            assert!(restricted(ip.parse().expect("ip")).is_some(), "{ip}");
        }
        for ip in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "64:ff9b::101:101",
        ] {
            assert!(restricted(ip.parse().expect("ip")).is_none(), "{ip}");
        }
    }
}
