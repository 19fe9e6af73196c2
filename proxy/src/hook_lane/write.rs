//! Writing a hook's answer as pingora's path does: the head finished as its modules
//! and writers finish it, the body compressed and framed, over HTTP/1.1 (to the
//! socket) or HTTP/2 (through pingora's stream writer).

use super::Lane;
use crate::compress::{Encoder, Planned, encoded_head, plan};
use crate::hit_path::{self, Request};
use crate::wire::put;
use bytes::Bytes;
use http::header;
use outpost_scripting::{Body, BodyStream};
use pingora::http::ResponseHeader;
use pingora::protocols::Stream;
use pingora::protocols::http::ServerSession;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Bytes of a streamed body gathered before a write (what is ready at once goes out
/// with the head in one write).
const GATHER: usize = 64 << 10;

/// What was sent, for the log and metrics.
pub(super) struct Sent {
    pub(super) status: u16,
    /// Body bytes written (after compression).
    pub(super) bytes: usize,
    pub(super) compression: Option<crate::compress::Outcome>,
    pub(super) error: Option<String>,
}

/// The head as pingora's path finishes it before its writer: the body's length (bytes
/// go with theirs), the compressor's decision (for a client whose `Accept-Encoding`
/// is `accept`; none when the head ends the answer), the request id. Returns the
/// encoder, if the body is to be compressed.
fn finish_head(
    head: &mut ResponseHeader,
    body: &Body,
    (head_only, accept): (bool, Option<&str>),
    (lane, id): (&Lane, &Arc<str>),
) -> pingora::Result<Option<Encoder>> {
    if let Body::Bytes(b) = body {
        head.insert_header(header::CONTENT_LENGTH, b.len())?;
    }
    let end_of_stream = ends_with_head(body, head_only);
    let mut encoder = None;
    if !end_of_stream && let Some(coding) = plan(head, &lane.site.compression, accept) {
        match Encoder::new(coding, &lane.site.compression) {
            Ok(e) => {
                encoded_head(head, coding)?;
                encoder = Some(e);
            }
            Err(e) => {
                tracing::warn!(error = %e, coding = coding.token(), "compressor set-up failed; sending uncompressed");
            }
        }
    }
    if let Some(name) = &lane.snapshot.config.server.request_id_header {
        head.insert_header(name.clone(), crate::request_id::per_response_value(id)?)?;
    }
    Ok(encoder)
}

/// Writes the answer to an HTTP/1.1 request as pingora's path does: the head as
/// [`finish_head`] leaves it plus pingora's `Date` and `Connection`, then the body
/// framed by its length or in chunks.
pub(super) async fn write_h1(
    stream: &mut Stream,
    out: &mut Vec<u8>,
    (mut head, body): (ResponseHeader, Body),
    (req, accept): (&Request<'_>, Option<&str>),
    (lane, id): (&Lane, &Arc<str>),
) -> Sent {
    let status = head.status.as_u16();
    let finished =
        finish_head(&mut head, &body, (req.head_only, accept), (lane, id)).and_then(|encoder| {
            head.insert_header(
                header::DATE,
                pingora::protocols::http::date::get_cached_date(),
            )?;
            head.insert_header(
                header::CONNECTION,
                if req.close { "close" } else { "keep-alive" },
            )?;
            Ok(encoder)
        });
    let encoder = match finished {
        Ok(e) => e,
        Err(e) => {
            return Sent {
                status,
                bytes: 0,
                compression: None,
                error: Some(e.to_string()),
            };
        }
    };
    let chunked = head
        .headers
        .get(header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    out.clear();
    let reason = head
        .get_reason_phrase()
        .or(head.status.canonical_reason())
        .unwrap_or("");
    // (Writing into a Vec cannot fail.)
    let _ = write!(out, "HTTP/1.1 {status} {reason}\r\n");
    head.header_to_h1_wire(out);
    out.extend_from_slice(b"\r\n");
    let body_out = BodyOut {
        chunked,
        encoder,
        bytes: 0,
    };
    send_h1(stream, out, (body, body_out), (req, lane), status).await
}

/// Writes a script's own head for an HTTP/1.1 request into `out`, byte for byte as
/// [`write_h1`] writes it once `hooks::client_head` has made it pingora's, without
/// making it so (that and finishing it were a tenth of a hook answering by itself).
/// Returns whether the body goes in chunks, or `None` (nothing written) when the
/// compressor would change more than add `Vary: Accept-Encoding`: [`write_h1`] then
/// writes it.
pub(super) fn plain_h1_head(
    out: &mut Vec<u8>,
    head: &http::response::Parts,
    body: &Body,
    (req, accept): (&Request<'_>, Option<&str>),
    (lane, id): (&Lane, &Arc<str>),
) -> Option<bool> {
    let fields = &head.headers;
    // The framing fields as `client_head` and `streamed_framing` leave them: a whole
    // body's own length; a stream keeps the script's length, or goes in chunks.
    let (length, chunked) = match body {
        Body::Bytes(b) => (Some(Length::Count(b.len())), false),
        Body::Stream(_) => match fields.get(header::CONTENT_LENGTH) {
            Some(v) => (Some(Length::Field(v)), false),
            None => (None, req.version == http::Version::HTTP_11),
        },
    };
    let vary = if ends_with_head(body, req.head_only) {
        false
    } else {
        let counted = matches!(body, Body::Bytes(_));
        let kept = fields.iter().filter(|(n, _)| {
            !(matches!(**n, header::TRANSFER_ENCODING | header::CONNECTION)
                || (counted && **n == header::CONTENT_LENGTH))
        });
        let mut facts = crate::compress::Facts::of_fields(
            head.status.as_u16(),
            kept.map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())),
        );
        if let Body::Bytes(b) = body {
            facts = facts.with_length(b.len() as u64);
        }
        let has_vary = fields.contains_key(header::VARY);
        match crate::compress::planned(&facts, has_vary, &lane.site.compression, accept) {
            Planned::Nothing => false,
            Planned::Vary => true,
            Planned::More => return None,
        }
    };
    let request_id = lane.snapshot.config.server.request_id_header.as_ref();
    out.clear();
    let reason = head.status.canonical_reason().unwrap_or("");
    put(
        out,
        &[
            b"HTTP/1.1 ",
            head.status.as_str().as_bytes(),
            b" ",
            reason.as_bytes(),
            b"\r\n",
        ],
    );
    // pingora's head replaces a field it sets where the script had it: `Date` and the
    // request id keep the script's place, with pingora's value, once.
    let date = pingora::protocols::http::date::get_cached_date();
    let (mut dated, mut identified) = (false, false);
    for (name, value) in fields {
        let value = match *name {
            header::CONTENT_LENGTH | header::TRANSFER_ENCODING | header::CONNECTION => continue,
            header::DATE if dated => continue,
            header::DATE => {
                dated = true;
                date.as_bytes()
            }
            _ if request_id == Some(name) => {
                if identified {
                    continue;
                }
                identified = true;
                id.as_bytes()
            }
            _ => value.as_bytes(),
        };
        put(out, &[titled(name), b": ", value, b"\r\n"]);
    }
    match length {
        Some(Length::Count(n)) => {
            out.extend_from_slice(b"Content-Length: ");
            crate::wire::put_dec(out, n);
            out.extend_from_slice(b"\r\n");
        }
        Some(Length::Field(v)) => put(out, &[b"Content-Length: ", v.as_bytes(), b"\r\n"]),
        None if chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        None => {}
    }
    if vary {
        out.extend_from_slice(b"vary: Accept-Encoding\r\n");
    }
    if let Some(name) = request_id
        && !identified
    {
        put(out, &[titled(name), b": ", id.as_bytes(), b"\r\n"]);
    }
    if !dated {
        put(out, &[b"Date: ", date.as_bytes(), b"\r\n"]);
    }
    out.extend_from_slice(if req.close {
        b"Connection: close\r\n\r\n"
    } else {
        b"Connection: keep-alive\r\n\r\n"
    });
    Some(chunked)
}

/// Whether the answer ends with its head (the compressor then leaves it alone).
fn ends_with_head(body: &Body, head_only: bool) -> bool {
    match body {
        Body::Bytes(b) => head_only || b.is_empty(),
        Body::Stream(_) => head_only,
    }
}

/// A whole body's length, or the script's own field for a stream's.
enum Length<'a> {
    Count(usize),
    Field(&'a http::HeaderValue),
}

/// A field name as pingora's HTTP/1 writer spells one it was given as a
/// `HeaderName`: a dozen common names title-cased, any other as the map keeps it
/// (lowercase).
fn titled(name: &http::HeaderName) -> &[u8] {
    let titled: &'static str = match *name {
        header::ACCEPT_RANGES => "Accept-Ranges",
        header::AGE => "Age",
        header::CACHE_CONTROL => "Cache-Control",
        header::CONNECTION => "Connection",
        header::CONTENT_TYPE => "Content-Type",
        header::CONTENT_ENCODING => "Content-Encoding",
        header::CONTENT_LENGTH => "Content-Length",
        header::DATE => "Date",
        header::TRANSFER_ENCODING => "Transfer-Encoding",
        header::HOST => "Host",
        header::SERVER => "Server",
        header::SET_COOKIE => "Set-Cookie",
        _ => return name.as_str().as_bytes(),
    };
    titled.as_bytes()
}

/// Sends the head in `out` and then the body, framed as `body_out` says.
pub(super) async fn send_h1(
    stream: &mut Stream,
    out: &mut Vec<u8>,
    (body, mut body_out): (Body, BodyOut),
    (req, lane): (&Request<'_>, &Lane),
    status: u16,
) -> Sent {
    let server = &lane.snapshot.config.server;
    let result = match body {
        _ if req.head_only => hit_path::send(stream, out, None, server).await,
        Body::Bytes(b) => match body_out.put(out, &b, true) {
            Ok(()) => hit_path::send(stream, out, None, server).await,
            Err(e) => Err(e),
        },
        Body::Stream(s) => stream_body(stream, out, s, &mut body_out, server).await,
    };
    Sent {
        status,
        bytes: body_out.bytes,
        compression: body_out.encoder.as_ref().map(Encoder::outcome),
        error: result.err().map(|e| e.to_string()),
    }
}

/// Writes the answer to an HTTP/2 stream through pingora's writer (which adds `Date`
/// and drops the HTTP/1 framing fields), within `server.send_timeout`.
pub(super) async fn write_h2(
    session: &mut ServerSession,
    (mut head, body): (ResponseHeader, Body),
    (head_only, accept): (bool, Option<&str>),
    (lane, id): (&Lane, &Arc<str>),
) -> Sent {
    let mut sent = Sent {
        status: head.status.as_u16(),
        bytes: 0,
        compression: None,
        error: None,
    };
    let encoder = match finish_head(&mut head, &body, (head_only, accept), (lane, id)) {
        Ok(e) => e,
        Err(e) => {
            sent.error = Some(e.to_string());
            return sent;
        }
    };
    let mut body_out = BodyOut {
        chunked: false,
        encoder,
        bytes: 0,
    };
    let limit = lane.snapshot.config.server.send_timeout;
    let write = async {
        timed(limit, session.write_response_header(Box::new(head))).await?;
        let mut data = Vec::new();
        match body {
            _ if head_only => timed(limit, session.write_response_body(Bytes::new(), true)).await,
            Body::Bytes(b) => {
                body_out.put(&mut data, &b, true).map_err(io_error)?;
                timed(limit, session.write_response_body(Bytes::from(data), true)).await
            }
            Body::Stream(mut s) => loop {
                let next = s.next().await;
                let end = !matches!(next, Some(Ok(_)));
                match next {
                    Some(Ok(chunk)) => body_out.put(&mut data, &chunk, false),
                    Some(Err(e)) => {
                        return Err(pingora::Error::explain(
                            pingora::ErrorType::ReadError,
                            format!("subrequest body for the client: {e}"),
                        ));
                    }
                    None => body_out.put(&mut data, &[], true),
                }
                .map_err(io_error)?;
                let chunk = Bytes::from(std::mem::take(&mut data));
                timed(limit, session.write_response_body(chunk, end)).await?;
                if end {
                    return Ok(());
                }
            },
        }
    };
    let result: pingora::Result<()> = write.await;
    sent.bytes = body_out.bytes;
    sent.compression = body_out.encoder.as_ref().map(Encoder::outcome);
    sent.error = result.err().map(|e| e.to_string());
    sent
}

/// One write to an HTTP/2 stream, failed when the client has not taken it within
/// `limit` (`server.send_timeout`; a stream's own pace between writes is the
/// script's, as on pingora's path).
async fn timed(
    limit: Duration,
    write: impl std::future::Future<Output = pingora::Result<()>>,
) -> pingora::Result<()> {
    match tokio::time::timeout(limit, write).await {
        Ok(r) => r,
        Err(_) => Err(pingora::Error::explain(
            pingora::ErrorType::WriteTimedout,
            "client did not read the response in time",
        )),
    }
}

fn io_error(e: std::io::Error) -> Box<pingora::Error> {
    pingora::Error::explain(
        pingora::ErrorType::InternalError,
        format!("compression failed: {e}"),
    )
}

/// The body on its way out: compressed (when the head says so) and framed.
pub(super) struct BodyOut {
    pub(super) chunked: bool,
    pub(super) encoder: Option<Encoder>,
    /// Body bytes put out so far (after compression, before framing).
    pub(super) bytes: usize,
}

impl BodyOut {
    /// Adds `data` (the last of the body when `end`) to `out`.
    fn put(&mut self, out: &mut Vec<u8>, data: &[u8], end: bool) -> std::io::Result<()> {
        let encoded;
        let data = match self.encoder.as_mut() {
            Some(e) => {
                encoded = e.encode(data, end)?;
                &encoded[..]
            }
            None => data,
        };
        self.bytes += data.len();
        if !self.chunked {
            out.extend_from_slice(data);
            return Ok(());
        }
        if !data.is_empty() {
            let _ = write!(out, "{:X}\r\n", data.len());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        if end {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        Ok(())
    }
}

/// Sends the head in `out` and a streamed body after it: what is ready at once is
/// gathered with the head into one write (a fetched 1 KiB body is one chunk).
async fn stream_body(
    stream: &mut Stream,
    out: &mut Vec<u8>,
    mut body: BodyStream,
    body_out: &mut BodyOut,
    server: &outpost_config::ServerSettings,
) -> std::io::Result<()> {
    use futures_util::FutureExt;
    loop {
        let next = match body.next().now_or_never() {
            Some(next) => next,
            None => {
                if !out.is_empty() {
                    hit_path::send(stream, out, None, server).await?;
                    out.clear();
                }
                body.next().await
            }
        };
        match next {
            Some(Ok(chunk)) => body_out.put(out, &chunk, false)?,
            Some(Err(e)) => {
                return Err(std::io::Error::other(format!(
                    "subrequest body for the client: {e}"
                )));
            }
            None => {
                body_out.put(out, &[], true)?;
                return hit_path::send(stream, out, None, server).await;
            }
        }
        if out.len() >= GATHER {
            hit_path::send(stream, out, None, server).await?;
            out.clear();
        }
    }
}
