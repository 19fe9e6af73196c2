//! Where an attempt goes: the origin (or parent / upper tier) and its connection
//! settings, and the keys consistent hashing places requests by.

use crate::pool::OriginPool;
use crate::site::Site;
use http::header;
use outpost_config::HashOn;
use pingora::prelude::HttpPeer;
use pingora::proxy::Session;

/// What consistent hashing places a request by: its path and query `pq`, the client's
/// address, or the value `header` gives for the configured field name. One function
/// for pingora's sessions and the fast path's raw heads.
pub(crate) fn hash_key<'a>(
    site: &Site,
    pq: &str,
    client_ip: Option<std::net::IpAddr>,
    header: impl FnOnce(&str) -> Option<&'a [u8]>,
) -> Vec<u8> {
    match &site.hash_on {
        HashOn::Uri => pq.as_bytes().to_vec(),
        HashOn::ClientIp => client_ip.map_or_else(Vec::new, |ip| ip.to_string().into_bytes()),
        HashOn::Header(name) => header(name.as_str()).map_or_else(Vec::new, <[u8]>::to_vec),
    }
}

/// What places an object on the upper-tier ring: host and path with query, as
/// the upper node's cache key starts.
pub(crate) fn upper_tier_key(session: &Session) -> Vec<u8> {
    let req = session.req_header();
    let host = req
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri.host())
        .unwrap_or("");
    let pq = req.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut key = host.to_ascii_lowercase().into_bytes();
    key.extend_from_slice(pq.as_bytes());
    key
}

/// `peer` with a site's origin timeouts.
pub(crate) fn with_timeouts(mut peer: HttpPeer, t: &outpost_config::Timeouts) -> HttpPeer {
    peer.options.connection_timeout = Some(t.connect);
    peer.options.total_connection_timeout = Some(t.connect * 2);
    peer.options.read_timeout = Some(t.read);
    peer.options.write_timeout = Some(t.write);
    peer.options.idle_timeout = Some(t.idle);
    peer
}

/// The connection to an upper-tier node: plain HTTP, the site's timeouts.
pub(crate) fn upper_peer(addr: std::net::SocketAddr, t: &outpost_config::Timeouts) -> HttpPeer {
    with_timeouts(HttpPeer::new(addr, false, String::new()), t)
}

/// The connection settings for origin `i` of `pool`.
pub(crate) fn peer_for(pool: &OriginPool, i: usize) -> HttpPeer {
    let o = &pool.origins()[i];
    if matches!(o.origin, outpost_config::Origin::Static { .. }) {
        crate::static_origin::start_waiting();
    }
    let sni = if o.tls { o.host.clone() } else { String::new() };
    let mut peer = with_timeouts(HttpPeer::new(o.addr(), o.tls, sni), &pool.timeouts);
    if let Some(connector) = o.connector.as_ref().filter(|c| c.has_alternatives()) {
        peer.options.custom_l4 = Some(connector.clone());
    }
    peer
}
