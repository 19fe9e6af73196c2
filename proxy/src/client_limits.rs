//! Limits Outpost applies before a site's work: request head sizes (414/431) and
//! the client-side timeouts of `server:`.

use pingora::http::RequestHeader;
use pingora::proxy::Session;

/// Longest request target accepted (414 beyond): longer ones are attacks or bugs, and
/// some origins and logs truncate them silently.
pub(crate) const MAX_URI: usize = 8 * 1024;
/// Largest request head (names and values) accepted (431 beyond).
pub(crate) const MAX_HEADERS: usize = 32 * 1024;

/// A request whose size Outpost refuses, with the status and message. Framing is
/// pingora's parser's job and it is strict (tests/hostile_http.rs): malformed or
/// obfuscated `Transfer-Encoding`, conflicting `Content-Length`, NUL and bare CR are
/// 400; with both `Content-Length` and `Transfer-Encoding`, chunked wins and the
/// connection is closed after the response (RFC 9112 6.1), so nothing after the
/// body is ever read as a request.
pub(crate) fn oversized_head(req: &RequestHeader) -> Option<(u16, &'static str)> {
    if req.raw_path().len() > MAX_URI {
        return Some((414, "414 URI Too Long\n"));
    }
    let head: usize = req
        .headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if head > MAX_HEADERS {
        return Some((431, "431 Request Header Fields Too Large\n"));
    }
    None
}

/// The client-side timeouts of `server:` for this request (pingora's defaults are a
/// 60 s read timeout, no write timeout and unlimited keep-alive).
pub(crate) fn apply_client_timeouts(
    session: &mut Session,
    server: &outpost_config::ServerSettings,
) {
    let downstream = session.as_downstream_mut();
    downstream.set_read_timeout(Some(server.body_timeout));
    downstream.set_write_timeout(Some(server.send_timeout));
    downstream.set_min_send_rate(usize::try_from(server.min_send_rate).ok());
    // Keep-alive stays as the client asked (HTTP/1.0, `Connection: close`), but never
    // idles longer than ours: pingora would wait forever for a next request.
    if let Some(asked) = downstream.get_keepalive() {
        let ours = server.idle_timeout.as_secs().max(1);
        let secs = if asked == 0 { ours } else { asked.min(ours) };
        downstream.set_keepalive(Some(secs));
    }
}
