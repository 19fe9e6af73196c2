//! Writing a hook's answer as pingora's path does: the head finished as its modules
//! and writers finish it, the body compressed and framed, over HTTP/1.1 (to the
//! socket) or HTTP/2 (through pingora's stream writer).

use super::Lane;
use crate::compress::{Encoder, encoded_head, plan};
use crate::hit_path::{self, Request};
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
    let end_of_stream = match body {
        Body::Bytes(b) => {
            head.insert_header(header::CONTENT_LENGTH, b.len())?;
            head_only || b.is_empty()
        }
        Body::Stream(_) => head_only,
    };
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
    let mut sent = Sent {
        status,
        bytes: 0,
        compression: None,
        error: None,
    };
    let server = &lane.snapshot.config.server;
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
            sent.error = Some(e.to_string());
            return sent;
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
    let mut body_out = BodyOut {
        chunked,
        encoder,
        bytes: 0,
    };
    let result = match body {
        _ if req.head_only => hit_path::send(stream, out, None, server).await,
        Body::Bytes(b) => match body_out.put(out, &b, true) {
            Ok(()) => hit_path::send(stream, out, None, server).await,
            Err(e) => Err(e),
        },
        Body::Stream(s) => stream_body(stream, out, s, &mut body_out, server).await,
    };
    sent.bytes = body_out.bytes;
    sent.compression = body_out.encoder.as_ref().map(Encoder::outcome);
    sent.error = result.err().map(|e| e.to_string());
    sent
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
struct BodyOut {
    chunked: bool,
    encoder: Option<Encoder>,
    /// Body bytes put out so far (after compression, before framing).
    bytes: usize,
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
