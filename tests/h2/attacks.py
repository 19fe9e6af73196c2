"""Malformed and abusive HTTP/2 against a server (h2c, prior knowledge), for
tests/hostile_h2.rs. Uses the python `h2` library with outbound validation off, so
it can send what a well-behaved client never would. Prints one JSON object per case:
{"case": name, "outcome": "status 400" | "reset <code>" | "goaway <code>" | "closed" | "timeout"}.
Bounded: every case has a 5 s deadline; only talks to the address it is given."""

import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

HOST, PORT = sys.argv[1], int(sys.argv[2])


def connect():
    s = socket.create_connection((HOST, PORT), timeout=5)
    cfg = h2.config.H2Configuration(
        client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False,
        validate_inbound_headers=False,
    )
    c = h2.connection.H2Connection(config=cfg)
    c.initiate_connection()
    s.sendall(c.data_to_send())
    return s, c


def outcome(s, c, stream_id=1, deadline=5.0):
    end = time.time() + deadline
    status = None
    while time.time() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            return "timeout"
        except OSError:
            return "closed"
        if not data:
            return status or "closed"
        try:
            events = c.receive_data(data)
        except h2.exceptions.ProtocolError as e:
            return "client-protocol-error " + type(e).__name__
        for ev in events:
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == stream_id:
                status = "status " + dict(ev.headers).get(b":status", b"?").decode()
            elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == stream_id:
                return status or "reset " + str(ev.error_code)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                return status or "goaway " + str(ev.error_code)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == stream_id:
                return status
        out = c.data_to_send()
        if out:
            s.sendall(out)
    return status or "timeout"


BASE = [(":method", "POST"), (":scheme", "http"), (":authority", "a.test"), (":path", "/bad")]


def headers_case(name, headers, body=None, end_stream=None):
    s, c = connect()
    try:
        c.send_headers(1, headers, end_stream=(body is None) if end_stream is None else end_stream)
        if body is not None:
            c.send_data(1, body, end_stream=True)
        s.sendall(c.data_to_send())
        return {"case": name, "outcome": outcome(s, c)}
    finally:
        s.close()


def rapid_reset():
    """CVE-2023-44487: open and cancel streams as fast as possible."""
    s, c = connect()
    sent = 0
    try:
        for i in range(1, 2 * 5000, 2):
            c.send_headers(i, [(":method", "GET"), (":scheme", "http"), (":authority", "a.test"), (":path", "/rapid")], end_stream=True)
            c.reset_stream(i)
            sent += 1
            if sent % 100 == 0:
                s.sendall(c.data_to_send())
        s.sendall(c.data_to_send())
        return {"case": "rapid reset", "outcome": outcome(s, c, stream_id=-1, deadline=3.0), "sent": sent}
    except OSError:
        return {"case": "rapid reset", "outcome": "closed", "sent": sent}
    finally:
        s.close()


def continuation_flood():
    """HEADERS without END_HEADERS, then CONTINUATION frames that never end."""
    s, c = connect()
    try:
        block = c.encoder.encode([(":method", "GET"), (":scheme", "http"), (":authority", "a.test"), (":path", "/cont")])
        frame = lambda t, flags, payload: len(payload).to_bytes(3, "big") + bytes([t, flags]) + (1).to_bytes(4, "big") + payload
        s.sendall(frame(0x1, 0x0, block))  # HEADERS, no END_HEADERS
        junk = c.encoder.encode([("x-flood", "a" * 1000)])
        sent = 0
        for _ in range(20000):  # up to ~20 MB of CONTINUATION, bounded
            s.sendall(frame(0x9, 0x0, junk))
            sent += 1
        return {"case": "continuation flood", "outcome": outcome(s, c, deadline=3.0), "sent": sent}
    except OSError:
        return {"case": "continuation flood", "outcome": "closed", "sent": sent}
    finally:
        s.close()


cases = [
    headers_case("content-length larger than body", BASE + [("content-length", "100")], b"x" * 10),
    headers_case("content-length smaller than body", BASE + [("content-length", "5")], b"GET /smuggled2 HTTP/1.1\r\n\r\n"),
    headers_case("transfer-encoding in h2", BASE + [("transfer-encoding", "chunked")], b"0\r\n\r\nGET /smuggled3 HTTP/1.1\r\nHost: a.test\r\n\r\n"),
    headers_case("connection header in h2", BASE + [("connection", "keep-alive")], b"x"),
    headers_case("CRLF in a header value", BASE + [("x-a", "a\r\nx-injected: 1")], b"x"),
    headers_case("LF in a header name", BASE + [("x-a\nx-b", "v")], b"x"),
    headers_case("upper-case header name", BASE + [("X-Upper", "v")], b"x"),
    headers_case("missing :path", [(":method", "GET"), (":scheme", "http"), (":authority", "a.test")]),
    headers_case("duplicate :method", [(":method", "GET"), (":method", "POST")] + BASE[1:]),
    headers_case("pseudo-header after a regular one", [(":method", "GET"), ("x-a", "b"), (":scheme", "http"), (":authority", "a.test"), (":path", "/bad")]),
    headers_case("unknown pseudo-header", BASE + [(":smuggle", "1")], b"x"),
    headers_case("authority and host disagree", BASE + [("host", "evil.test")], b"x"),
    rapid_reset(),
    continuation_flood(),
]
for case in cases:
    print(json.dumps(case))
