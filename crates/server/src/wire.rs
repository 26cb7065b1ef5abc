//! Request targets as OpenPanel's clients send them.
//!
//! curl sends `events=[{"name":"x"}]` with raw `"` (the contract's §4.1 accepts it), but
//! the `http` crate under actix-web rejects `"`, `<`, `>`, `#` and non-ASCII bytes in a
//! request target before any handler runs. This adapter sits between the socket and the
//! HTTP parser and percent-encodes exactly those bytes inside request targets, so the query
//! string decoder sees what the client meant. Everything else — headers, bodies, responses —
//! passes through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where in the HTTP/1 request stream the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The method, before the first space.
    Method,
    /// The request target, up to the next space.
    Target,
    /// The rest of the start line (the version).
    Version,
    /// Header lines, until an empty line.
    Headers,
    /// A body of this many bytes still to pass.
    Body(u64),
    /// A body whose length we cannot follow (chunked): pass the rest of the connection.
    Opaque,
}

/// A stream that rewrites request targets the HTTP parser would refuse.
#[derive(Debug)]
pub struct TargetFix<S> {
    inner: S,
    state: State,
    /// The current header line (to find Content-Length and Transfer-Encoding).
    line: Vec<u8>,
    content_length: u64,
    chunked: bool,
    /// Rewritten bytes not yet handed to the reader.
    pending: Vec<u8>,
    pending_at: usize,
}

impl<S> TargetFix<S> {
    /// Wrap a connection.
    pub fn new(inner: S) -> Self {
        TargetFix {
            inner,
            state: State::Method,
            line: Vec::new(),
            content_length: 0,
            chunked: false,
            pending: Vec::new(),
            pending_at: 0,
        }
    }

    fn needs_encoding(b: u8) -> bool {
        matches!(b, b'"' | b'<' | b'>' | b'#' | 0x80..=0xFF)
    }

    fn end_of_headers(&mut self) {
        self.state = match (self.chunked, self.content_length) {
            (true, _) => State::Opaque,
            (false, 0) => State::Method,
            (false, n) => State::Body(n),
        };
        self.content_length = 0;
        self.chunked = false;
    }

    fn header_line(&mut self) {
        let line = String::from_utf8_lossy(&self.line).to_ascii_lowercase();
        if let Some(v) = line.strip_prefix("content-length:") {
            self.content_length = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("transfer-encoding:") {
            self.chunked = v.contains("chunked");
        }
        self.line.clear();
    }

    /// Rewrite freshly read bytes into `out`.
    fn rewrite(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
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
                        State::Method
                    } else {
                        State::Body(left)
                    };
                    continue;
                }
                State::Method => {
                    if b == b' ' {
                        self.state = State::Target;
                    }
                    out.push(b);
                }
                State::Target => {
                    if b == b' ' || b == b'\r' || b == b'\n' {
                        self.state = if b == b' ' {
                            State::Version
                        } else {
                            State::Headers
                        };
                        out.push(b);
                    } else if Self::needs_encoding(b) {
                        out.extend_from_slice(format!("%{b:02X}").as_bytes());
                    } else {
                        out.push(b);
                    }
                }
                State::Version => {
                    if b == b'\n' {
                        self.state = State::Headers;
                        self.line.clear();
                    }
                    out.push(b);
                }
                State::Headers => {
                    out.push(b);
                    if b == b'\n' {
                        let empty = self.line.iter().all(|c| *c == b'\r');
                        if empty {
                            self.line.clear();
                            self.end_of_headers();
                        } else {
                            self.header_line();
                        }
                    } else if self.line.len() < 8192 {
                        self.line.push(b);
                    }
                }
            }
            i += 1;
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
                other => return other,
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TargetFix<S> {
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
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
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
    use super::TargetFix;

    fn rewrite(chunks: &[&[u8]]) -> Vec<u8> {
        let mut fix = TargetFix::new(());
        let mut out = Vec::new();
        for c in chunks {
            fix.rewrite(c, &mut out);
        }
        out
    }

    #[test]
    fn encodes_only_request_targets() {
        let req = b"GET /export/charts?events=[{\"name\":\"x\"}]&city=M\xc3\xbcnchen HTTP/1.1\r\nX-Quote: \"kept\"\r\n\r\n";
        let out = rewrite(&[req]);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "GET /export/charts?events=[{%22name%22:%22x%22}]&city=M%C3%BCnchen HTTP/1.1\r\nX-Quote: \"kept\"\r\n\r\n"
        );
    }

    #[test]
    fn follows_bodies_and_keep_alive_across_chunk_boundaries() {
        let a = b"POST /a?q=\"1\" HTTP/1.1\r\nContent-Length: 5\r\n\r\n\"abc";
        let b = b"\"GET /b?q=\"2\" HTTP/1.1\r\n\r\n";
        let out = rewrite(&[&a[..10], &a[10..], b]);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "POST /a?q=%221%22 HTTP/1.1\r\nContent-Length: 5\r\n\r\n\"abc\"GET /b?q=%222%22 HTTP/1.1\r\n\r\n"
        );
    }
}
