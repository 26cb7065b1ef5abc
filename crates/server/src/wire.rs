//! The request head as the socket delivers it, before the HTTP parser sees it.
//!
//! Two jobs, both on the raw byte stream between the socket and actix-web's HTTP/1 parser:
//!
//! - **Targets as OpenPanel's clients send them.** curl sends `events=[{"name":"x"}]` with
//!   raw `"` (the contract's §4.1 accepts it), but the `http` crate under actix-web refuses
//!   `"`, `<`, `>`, `#`, `` ` `` and non-ASCII bytes in a request target. Those bytes are
//!   percent-encoded inside request targets, so the query-string decoder sees what the
//!   client meant. Control characters are not: no client sends them raw (curl and browsers
//!   encode them), so a target holding one is malformed (400, like any other).
//! - **Every error is JSON (§4.2), also before a handler runs.** The parser answers an
//!   oversized or malformed head with an empty 400/431 (or closes the connection), and a
//!   slow one with an empty 408. Here each head is collected (up to the configured limit),
//!   checked as the parser will check it, and a head that would be refused is replaced by
//!   a synthetic request for [`REFUSED_PATH`], whose handler answers the JSON error; the
//!   rest of that connection is discarded and the connection closes after the answer.
//!
//! Everything else — headers, bodies, responses — passes through untouched.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::error::Transport;

/// Bytes of a refused request read and dropped at most before its connection closes.
const LINGER: usize = 1 << 20;

/// Where synthetic requests for refused heads go: `/.quarry/refused/<code>`.
pub const REFUSED_PATH: &str = "/.quarry/refused/";

/// Most headers the HTTP parser accepts (actix-http's limit).
const MAX_HEADERS: usize = 96;

/// What the gate lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// Longest request target, in bytes as sent.
    pub max_url: usize,
    /// Largest head (request line and headers), in bytes as sent.
    pub max_head: usize,
    /// How long a head may take to arrive once it has started (and, on a new connection,
    /// from the accept).
    pub head_timeout: Duration,
}

/// Where in the HTTP/1 request stream the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a request head.
    Head,
    /// A body of this many bytes still to pass.
    Body(u64),
    /// A body whose length we cannot follow (chunked): pass the rest of the connection.
    Opaque,
    /// A head was refused: everything that follows is dropped.
    Discard,
}

/// A stream that rewrites request targets and refuses heads the parser would refuse.
#[derive(Debug)]
pub struct TargetFix<S> {
    inner: S,
    gate: Gate,
    state: State,
    /// The head collected so far.
    head: Vec<u8>,
    /// Bytes ready for the reader.
    pending: Vec<u8>,
    pending_at: usize,
    /// When the head being collected must be complete.
    timer: Option<Pin<Box<Sleep>>>,
    /// Bytes dropped while closing a refused connection.
    lingered: usize,
    /// Whether the write side of a refused connection is closed.
    write_closed: bool,
}

/// The synthetic request standing for a refused head.
fn refused_request(t: &Transport) -> Vec<u8> {
    let code = match t {
        Transport::Malformed(reason) => {
            let at = MALFORMED.iter().position(|r| r == reason).unwrap_or(0);
            format!("400/{at}")
        }
        Transport::UriTooLong(_) => "414".into(),
        Transport::HeadTooLarge(_) => "431".into(),
        Transport::Timeout(_) => "408".into(),
    };
    format!("GET {REFUSED_PATH}{code} HTTP/1.1\r\nHost: quarry\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// Why a head is malformed, by index (the synthetic request's path carries the index).
const MALFORMED: [&str; 7] = [
    "malformed request line or headers",
    "unsupported method",
    "unsupported HTTP version",
    "invalid request target",
    "invalid header",
    "control character in the request target (percent-encode it)",
    "ambiguous message length (Content-Length repeated or with Transfer-Encoding, \
     or a transfer coding other than chunked)",
];

/// The refusal a synthetic request stands for (`400/2`, `414`, …), with the limits in force.
pub fn refusal(code: &str, gate: &Gate) -> Transport {
    match code.split_once('/') {
        Some(("400", at)) => Transport::Malformed(
            at.parse::<usize>()
                .ok()
                .and_then(|i| MALFORMED.get(i))
                .copied()
                .unwrap_or(MALFORMED[0]),
        ),
        _ => match code {
            "414" => Transport::UriTooLong(gate.max_url),
            "431" => Transport::HeadTooLarge(gate.max_head),
            "408" => Transport::Timeout(gate.head_timeout.as_secs()),
            _ => Transport::Malformed(MALFORMED[0]),
        },
    }
}

fn needs_encoding(b: u8) -> bool {
    matches!(b, b'"' | b'<' | b'>' | b'#' | b'`' | 0x80..=0xFF)
}

/// The end of the head in `buf` (just past the empty line), if it is complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(at) = buf[i..].iter().position(|b| *b == b'\n') {
        let nl = i + at;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// Whether a request line still being received already has a target longer than `max`.
fn target_too_long(partial: &[u8], max: usize) -> bool {
    let line_end = partial
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(partial.len());
    let line = &partial[..line_end];
    let Some(start) = line.iter().position(|b| *b == b' ') else {
        return false;
    };
    let target = &line[start + 1..];
    let len = target
        .iter()
        .position(|b| *b == b' ' || *b == b'\r')
        .unwrap_or(target.len());
    len > max
}

/// Check a complete head and rewrite its target; the bytes to pass on and what follows
/// the head, or why it is refused.
fn check_head(head: &[u8], gate: &Gate) -> Result<(Vec<u8>, State), Transport> {
    if target_too_long(head, gate.max_url) {
        return Err(Transport::UriTooLong(gate.max_url));
    }
    if head.len() > gate.max_head {
        return Err(Transport::HeadTooLarge(gate.max_head));
    }
    // Percent-encode the target (between the first two spaces of the request line).
    let line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let mut out = Vec::with_capacity(head.len() + 64);
    let first_space = head[..line_end].iter().position(|b| *b == b' ');
    match first_space {
        Some(s) => {
            out.extend_from_slice(&head[..=s]);
            let rest = &head[s + 1..];
            let end = rest
                .iter()
                .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
                .unwrap_or(rest.len());
            for &b in &rest[..end] {
                if b.is_ascii_control() {
                    return Err(Transport::Malformed(MALFORMED[5]));
                }
                if needs_encoding(b) {
                    out.extend_from_slice(format!("%{b:02X}").as_bytes());
                } else {
                    out.push(b);
                }
            }
            out.extend_from_slice(&rest[end..]);
        }
        None => out.extend_from_slice(head),
    }
    // Parse it as actix-http will, and refuse what it would refuse.
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&out) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Transport::Malformed(MALFORMED[0])),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Transport::HeadTooLarge(gate.max_head));
        }
        Err(httparse::Error::Version) => return Err(Transport::Malformed(MALFORMED[2])),
        Err(httparse::Error::HeaderName | httparse::Error::HeaderValue) => {
            return Err(Transport::Malformed(MALFORMED[4]));
        }
        Err(_) => return Err(Transport::Malformed(MALFORMED[0])),
    }
    let method_ok = req
        .method
        .is_some_and(|m| http::Method::from_bytes(m.as_bytes()).is_ok());
    if !method_ok {
        return Err(Transport::Malformed(MALFORMED[1]));
    }
    match req.path {
        Some(path) if path.len() > gate.max_url.max(1) * 3 => {
            return Err(Transport::UriTooLong(gate.max_url));
        }
        Some(path) if http::Uri::try_from(path).is_ok() => {}
        _ => return Err(Transport::Malformed(MALFORMED[3])),
    }
    // The length of the body decides where the next head starts: this reader and the
    // parser must agree on it, so anything two readers could take differently (request
    // smuggling, RFC 9112 §6.3) is refused.
    let ambiguous = || Transport::Malformed(MALFORMED[6]);
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value).unwrap_or("").trim();
            let n = v.parse().map_err(|_| Transport::Malformed(MALFORMED[4]))?;
            if content_length.replace(n).is_some() {
                return Err(ambiguous());
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if chunked || !h.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(ambiguous());
            }
            chunked = true;
        }
        if http::HeaderValue::from_bytes(h.value).is_err() {
            return Err(Transport::Malformed(MALFORMED[4]));
        }
    }
    let next = match (chunked, content_length) {
        (true, Some(_)) => return Err(ambiguous()),
        (true, None) => State::Opaque,
        (false, None | Some(0)) => State::Head,
        (false, Some(n)) => State::Body(n),
    };
    Ok((out, next))
}

impl<S> TargetFix<S> {
    /// Wrap a freshly accepted connection.
    pub fn new(inner: S, gate: Gate) -> Self {
        TargetFix {
            inner,
            gate,
            state: State::Head,
            head: Vec::new(),
            pending: Vec::new(),
            pending_at: 0,
            // The first head is timed from the accept, as the parser would.
            timer: Some(Box::pin(tokio::time::sleep(gate.head_timeout))),
            lingered: 0,
            write_closed: false,
        }
    }

    fn refuse(&mut self, t: &Transport, out: &mut Vec<u8>) {
        out.extend_from_slice(&refused_request(t));
        self.state = State::Discard;
        self.head = Vec::new();
        self.timer = None;
    }

    /// Rewrite freshly read bytes into `out`.
    fn rewrite(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Discard => return,
                State::Opaque => {
                    out.extend_from_slice(&input[i..]);
                    return;
                }
                State::Body(n) => {
                    let take = usize::try_from(n)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    out.extend_from_slice(&input[i..i + take]);
                    i += take;
                    let left = n - take as u64;
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Body(left)
                    };
                }
                State::Head => {
                    // Empty lines before a request line are ignored (RFC 9112 §2.2).
                    if self.head.is_empty() {
                        while i < input.len() && matches!(input[i], b'\r' | b'\n') {
                            i += 1;
                        }
                        if i == input.len() {
                            return;
                        }
                        if self.timer.is_none() {
                            self.timer = Some(Box::pin(tokio::time::sleep(self.gate.head_timeout)));
                        }
                    }
                    // Look for the end of the head in what is collected plus this input,
                    // never holding more than the limit (plus a line ending) of it.
                    let before = self.head.len();
                    let room = (self.gate.max_head + 4).saturating_sub(before);
                    let take = room.min(input.len() - i);
                    self.head.extend_from_slice(&input[i..i + take]);
                    match head_end(&self.head) {
                        Some(end) => {
                            i += end - before;
                            let head = std::mem::take(&mut self.head);
                            self.timer = None;
                            match check_head(&head[..end], &self.gate) {
                                Ok((bytes, next)) => {
                                    out.extend_from_slice(&bytes);
                                    self.state = next;
                                }
                                Err(t) => {
                                    self.refuse(&t, out);
                                    return;
                                }
                            }
                        }
                        None => {
                            i += take;
                            if target_too_long(&self.head, self.gate.max_url) {
                                self.refuse(&Transport::UriTooLong(self.gate.max_url), out);
                                return;
                            }
                            if self.head.len() > self.gate.max_head {
                                self.refuse(&Transport::HeadTooLarge(self.gate.max_head), out);
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TargetFix<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pending_at < this.pending.len() {
                let n = (this.pending.len() - this.pending_at).min(buf.remaining());
                buf.put_slice(&this.pending[this.pending_at..this.pending_at + n]);
                this.pending_at += n;
                return Poll::Ready(Ok(()));
            }
            this.pending.clear();
            this.pending_at = 0;
            let mut raw = [0u8; 8192];
            let mut rb = ReadBuf::new(&mut raw);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let filled = rb.filled();
                    if filled.is_empty() {
                        return Poll::Ready(Ok(()));
                    }
                    let mut out = std::mem::take(&mut this.pending);
                    this.rewrite(filled, &mut out);
                    this.pending = out;
                }
                Poll::Pending => {
                    // A head that is late is answered 408, in JSON, before the parser's
                    // own (later) timer would answer with an empty body.
                    let late = this.state == State::Head
                        && this
                            .timer
                            .as_mut()
                            .is_some_and(|t| t.as_mut().poll(cx).is_ready());
                    if !late {
                        return Poll::Pending;
                    }
                    let mut out = Vec::new();
                    let secs = this.gate.head_timeout.as_secs();
                    this.refuse(&Transport::Timeout(secs), &mut out);
                    this.pending = out;
                }
                other => return other,
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TargetFix<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.state != State::Discard {
            return Pin::new(&mut this.inner).poll_shutdown(cx);
        }
        // A refused request may still be arriving, and closing a socket with unread data
        // resets the connection: the client could lose the answer. So the write side is
        // closed first (the client reads the answer to its end), then what it still sends
        // is read and dropped until it closes too — bounded by LINGER bytes here and by
        // the server's disconnect timeout.
        if !this.write_closed {
            std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.write_closed = true;
        }
        let mut raw = [0u8; 8192];
        while this.lingered < LINGER {
            let mut rb = ReadBuf::new(&mut raw);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                    this.lingered += rb.filled().len();
                }
                Poll::Ready(_) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GATE: Gate = Gate {
        max_url: 64,
        max_head: 256,
        head_timeout: Duration::from_secs(5),
    };

    fn rewrite(chunks: &[&[u8]]) -> String {
        let mut fix = TargetFix {
            inner: (),
            gate: GATE,
            state: State::Head,
            head: Vec::new(),
            pending: Vec::new(),
            pending_at: 0,
            timer: None,
            lingered: 0,
            write_closed: false,
        };
        let mut out = Vec::new();
        for c in chunks {
            fix.rewrite(c, &mut out);
        }
        String::from_utf8(out).unwrap_or_default()
    }

    fn refused(code: &str) -> String {
        format!("GET {REFUSED_PATH}{code} HTTP/1.1\r\nHost: quarry\r\nConnection: close\r\n\r\n")
    }

    // Heads start timers: a runtime is needed.
    #[tokio::test]
    async fn encodes_only_request_targets() {
        let req = b"GET /export/charts?events=[{\"name\":\"x\"}]&city=M\xc3\xbcnchen&c=%01#`<> HTTP/1.1\r\nX-Quote: \"kept\"\r\n\r\n";
        assert_eq!(
            rewrite(&[req]),
            "GET /export/charts?events=[{%22name%22:%22x%22}]&city=M%C3%BCnchen&c=%01%23%60%3C%3E HTTP/1.1\r\nX-Quote: \"kept\"\r\n\r\n"
        );
    }

    // Heads start timers: a runtime is needed.
    #[tokio::test]
    async fn ambiguous_body_lengths_are_refused() {
        for headers in [
            "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
            "Content-Length: 3\r\nContent-Length: 3\r\n",
            "Content-Length: 3\r\nContent-Length: 5\r\n",
            "Transfer-Encoding: gzip, chunked\r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        ] {
            let req = format!("POST /a HTTP/1.1\r\n{headers}\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
            assert_eq!(rewrite(&[req.as_bytes()]), refused("400/6"), "{headers:?}");
        }
        let req = "POST /a HTTP/1.1\r\nTransfer-Encoding:  Chunked \r\n\r\n0\r\n\r\n";
        assert_eq!(rewrite(&[req.as_bytes()]), req);
    }

    // Heads start timers: a runtime is needed.
    #[tokio::test]
    async fn control_characters_in_targets_are_refused() {
        for c in [0x00_u8, 0x01, 0x09, 0x1f, 0x7f] {
            let mut req = b"GET /export/events?event=a".to_vec();
            req.push(c);
            req.extend_from_slice(b"b HTTP/1.1\r\n\r\n");
            assert_eq!(rewrite(&[&req]), refused("400/5"), "byte {c:#04x}");
        }
    }

    // Heads start timers: a runtime is needed.
    #[tokio::test]
    async fn follows_bodies_and_keep_alive_across_chunk_boundaries() {
        let a = b"POST /a?q=\"1\" HTTP/1.1\r\nContent-Length: 5\r\n\r\n\"abc";
        let b = b"\"GET /b?q=\"2\" HTTP/1.1\r\n\r\n";
        assert_eq!(
            rewrite(&[&a[..10], &a[10..], b]),
            "POST /a?q=%221%22 HTTP/1.1\r\nContent-Length: 5\r\n\r\n\"abc\"GET /b?q=%222%22 HTTP/1.1\r\n\r\n"
        );
    }

    // Heads start timers: a runtime is needed.
    #[tokio::test]
    async fn oversized_and_malformed_heads_become_refusals() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100));
        assert_eq!(rewrite(&[long.as_bytes()]), refused("414"));
        // Known before the line ends, and nothing after the refusal passes.
        let partial = format!("GET /{}", "a".repeat(100));
        assert_eq!(
            rewrite(&[
                partial.as_bytes(),
                b" HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"
            ]),
            refused("414")
        );
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "b".repeat(300));
        assert_eq!(rewrite(&[big.as_bytes()]), refused("431"));
        let never_ends = format!("GET / HTTP/1.1\r\nX: {}", "b".repeat(300));
        assert_eq!(rewrite(&[never_ends.as_bytes()]), refused("431"));
        let many: String = (0..100).map(|i| format!("h{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        let gate_big = Gate {
            max_head: 4096,
            ..GATE
        };
        let mut fix = TargetFix {
            inner: (),
            gate: gate_big,
            state: State::Head,
            head: Vec::new(),
            pending: Vec::new(),
            pending_at: 0,
            timer: None,
            lingered: 0,
            write_closed: false,
        };
        let mut out = Vec::new();
        fix.rewrite(many.as_bytes(), &mut out);
        assert_eq!(String::from_utf8(out).unwrap_or_default(), refused("431"));
        assert_eq!(rewrite(&[b"GET / HTTP/9.9\r\n\r\n"]), refused("400/2"));
        assert_eq!(rewrite(&[b"G@T / HTTP/1.1\r\n\r\n"]), refused("400/0"));
        assert_eq!(rewrite(&[b"garbage\r\n\r\n"]), refused("400/0"));
        assert_eq!(
            rewrite(&[b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"]),
            refused("400/4")
        );
    }

    #[test]
    fn refusals_name_their_limits() {
        assert_eq!(refusal("414", &GATE), Transport::UriTooLong(64));
        assert_eq!(refusal("431", &GATE), Transport::HeadTooLarge(256));
        assert_eq!(refusal("408", &GATE), Transport::Timeout(5));
        assert_eq!(
            refusal("400/3", &GATE),
            Transport::Malformed("invalid request target")
        );
        assert_eq!(refusal("nope", &GATE), Transport::Malformed(MALFORMED[0]));
    }
}
