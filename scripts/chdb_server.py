#!/usr/bin/env python3
"""A small ClickHouse-HTTP-compatible *test* server on top of chdb (ClickHouse in-process).

Only for tests and local development: no authentication, no TLS, one shared session,
queries are serialized. It speaks enough of ClickHouse's HTTP interface for the official
Rust `clickhouse` crate (and curl) to work against it. See docs/testing.md.

Supported:
  * GET/HEAD /ping and /replicas_status -> "Ok.\\n"; GET / without a query -> "Ok.\\n".
  * The query in `?query=` and/or the request body (URL query + "\\n" + body, as ClickHouse
    does; for `INSERT ... FORMAT X` in the URL the body is the data, streamed to chdb as raw
    bytes, so binary formats such as RowBinary work).
  * `multipart/form-data` bodies: the `query` field plus `param_<name>` fields.
  * Server-side parameters `{name:Type}` from `param_<name>` URL/form fields (chdb's native
    `params` argument; values use ClickHouse's escaped text form, as over HTTP).
  * `database=` / `X-ClickHouse-Database`, `default_format=` / `X-ClickHouse-Format`,
    `FORMAT` in the query (the default output format is TabSeparated, as in ClickHouse).
  * Other URL parameters that are not HTTP-interface parameters are applied as settings
    for that one request (`SET name = 'value'`, reset to DEFAULT afterwards).
  * `query_id=` (an HTTP-interface parameter, not a setting): echoed in
    `X-ClickHouse-Query-Id`; a second request with the id of one not yet finished fails
    with QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING.
  * `KILL QUERY WHERE query_id = '<id>' | {name:String} [SYNC|ASYNC|TEST]`, answered at
    once without waiting for the query lock: a query still waiting for the lock is
    cancelled (it fails with QUERY_WAS_CANCELLED); one already running in chdb cannot be
    interrupted from another thread and runs on until it ends (max_execution_time works).
  * Chunked request bodies, `Expect: 100-continue`, HTTP/1.1 keep-alive, TCP_NODELAY.
  * `decompress=1`: ClickHouse native compressed blocks (16-byte CityHash128 v1.0.2
    checksum, method byte 0x82 = LZ4 or 0x02 = none, compressed and decompressed sizes,
    payload). Checksums are verified (pure-Python CityHash128); LZ4 is decoded in pure
    Python (the `lz4` package is used instead when it happens to be importable).
  * `compress=1`: the response is framed as native blocks with method 0x02 (no
    compression, valid checksums). `Accept-Encoding`/`enable_http_compression` are ignored:
    responses are sent without Content-Encoding, which every ClickHouse client accepts.
  * Content-Encoding gzip/deflate request bodies.
  * Errors: `Code: <n>. DB::Exception: <message>` with `X-ClickHouse-Exception-Code`, and
    HTTP 400/404/500... following ClickHouse's code-to-status mapping for common codes.

Standard library only (plus chdb). Python 3.9+.
"""

import argparse
import http.server
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import zlib

# --------------------------------------------------------------------------------------
# CityHash128 v1.0.2 (the version ClickHouse uses for compressed-block checksums).

_M64 = 0xFFFFFFFFFFFFFFFF
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F
_K3 = 0xC949D7C7509E6557
_KMUL = 0x9DDFEA08EB382D69


def _f64(s, i):
    return int.from_bytes(s[i:i + 8], "little")


def _f32(s, i):
    return int.from_bytes(s[i:i + 4], "little")


def _rot(v, shift):
    return v if shift == 0 else ((v >> shift) | (v << (64 - shift))) & _M64


def _smix(v):
    return v ^ (v >> 47)


def _h16(u, v):
    a = ((u ^ v) * _KMUL) & _M64
    a ^= a >> 47
    b = ((v ^ a) * _KMUL) & _M64
    b ^= b >> 47
    return (b * _KMUL) & _M64


def _hash_len_0_to_16(s):
    n = len(s)
    if n > 8:
        a = _f64(s, 0)
        b = _f64(s, n - 8)
        return _h16(a, _rot((b + n) & _M64, n)) ^ b
    if n >= 4:
        a = _f32(s, 0)
        return _h16((n + (a << 3)) & _M64, _f32(s, n - 4))
    if n > 0:
        a, b, c = s[0], s[n >> 1], s[n - 1]
        y = (a + (b << 8)) & 0xFFFFFFFF
        z = (n + (c << 2)) & 0xFFFFFFFF
        return (_smix(((y * _K2) ^ (z * _K3)) & _M64) * _K2) & _M64
    return _K2


def _weak32(s, i, a, b):
    w, x, y, z = _f64(s, i), _f64(s, i + 8), _f64(s, i + 16), _f64(s, i + 24)
    a = (a + w) & _M64
    b = _rot((b + a + z) & _M64, 21)
    c = a
    a = (a + x + y) & _M64
    b = (b + _rot(a, 44)) & _M64
    return (a + z) & _M64, (b + c) & _M64


def _city_murmur(s, a, b):
    n = len(s)
    if n <= 16:
        a = (_smix((a * _K1) & _M64) * _K1) & _M64
        c = (b * _K1 + _hash_len_0_to_16(s)) & _M64
        d = _smix((a + (_f64(s, 0) if n >= 8 else c)) & _M64)
    else:
        c = _h16((_f64(s, n - 8) + _K1) & _M64, a)
        d = _h16((b + n) & _M64, (c + _f64(s, n - 16)) & _M64)
        a = (a + d) & _M64
        i = 0
        while True:
            a ^= (_smix((_f64(s, i) * _K1) & _M64) * _K1) & _M64
            a = (a * _K1) & _M64
            b ^= a
            c ^= (_smix((_f64(s, i + 8) * _K1) & _M64) * _K1) & _M64
            c = (c * _K1) & _M64
            d ^= c
            i += 16
            if n - i <= 16:
                break
    a = _h16(a, c)
    b = _h16(d, b)
    return a ^ b, _h16(b, a)


def _city128_seed(s, x, y):
    n = len(s)
    if n < 128:
        return _city_murmur(s, x, y)
    z = (n * _K1) & _M64
    v0 = (_rot(y ^ _K1, 49) * _K1 + _f64(s, 0)) & _M64
    v1 = (_rot(v0, 42) * _K1 + _f64(s, 8)) & _M64
    w0 = (_rot((y + z) & _M64, 35) * _K1 + x) & _M64
    w1 = (_rot((x + _f64(s, 88)) & _M64, 53) * _K1) & _M64
    i = 0
    while True:
        for _ in range(2):
            x = (_rot((x + y + v0 + _f64(s, i + 16)) & _M64, 37) * _K1) & _M64
            y = (_rot((y + v1 + _f64(s, i + 48)) & _M64, 42) * _K1) & _M64
            x ^= w1
            y ^= v0
            z = _rot(z ^ w0, 33)
            v0, v1 = _weak32(s, i, (v1 * _K1) & _M64, (x + w0) & _M64)
            w0, w1 = _weak32(s, i + 32, (z + w1) & _M64, y)
            z, x = x, z
            i += 64
        if n - i < 128:
            break
    y = (y + _rot(w0, 37) * _K0 + z) & _M64
    x = (x + _rot((v0 + z) & _M64, 49) * _K0) & _M64
    done = 0
    rest = n - i
    while done < rest:
        done += 32
        y = (_rot((y - x) & _M64, 42) * _K0 + v1) & _M64
        w0 = (w0 + _f64(s, n - done + 16)) & _M64
        x = (_rot(x, 49) * _K0 + w0) & _M64
        w0 = (w0 + v0) & _M64
        v0, v1 = _weak32(s, n - done, v0, v1)
    x = _h16(x, v0)
    y = _h16(y, w0)
    return (_h16((x + v1) & _M64, w1) + y) & _M64, _h16((x + w1) & _M64, (y + v1) & _M64)


def cityhash128(data):
    """CityHash128 v1.0.2 of `data`; returns (low64, high64)."""
    s = bytes(data)
    n = len(s)
    if n >= 16:
        return _city128_seed(s[16:], _f64(s, 0) ^ _K3, _f64(s, 8))
    if n >= 8:
        return _city128_seed(b"", _f64(s, 0) ^ ((n * _K0) & _M64), _f64(s, n - 8) ^ _K1)
    return _city128_seed(s, _K0, _K1)


try:  # optional accelerator (C), never required: start-clickhouse.sh installs it
    from clickhouse_cityhash.cityhash import CityHash128 as _CityHash128  # type: ignore
except Exception:  # noqa: BLE001
    _CityHash128 = None


def block_checksum(header_and_payload):
    """The 16 checksum bytes that precede a native compressed block."""
    if _CityHash128 is not None:
        # The C extension returns low << 64 | high.
        v = _CityHash128(bytes(header_and_payload))
        return struct.pack("<QQ", v >> 64, v & 0xFFFF_FFFF_FFFF_FFFF)
    low, high = cityhash128(header_and_payload)
    return struct.pack("<QQ", low, high)


# --------------------------------------------------------------------------------------
# LZ4 block format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md).

try:  # optional accelerator, never required
    import lz4.block as _lz4_block  # type: ignore
except Exception:  # noqa: BLE001
    _lz4_block = None


class CompressionError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def lz4_block_decompress(src, size):
    if _lz4_block is not None:
        return _lz4_block.decompress(bytes(src), uncompressed_size=size)
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        token = src[i]
        i += 1
        lit = token >> 4
        if lit == 15:
            while True:
                b = src[i]
                i += 1
                lit += b
                if b != 255:
                    break
        if lit:
            out += src[i:i + lit]
            i += lit
        if i >= n:
            break  # the last sequence has literals only
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        ml = token & 15
        if ml == 15:
            while True:
                b = src[i]
                i += 1
                ml += b
                if b != 255:
                    break
        ml += 4
        start = len(out) - offset
        if offset == 0 or start < 0:
            raise CompressionError(271, "LZ4 block references data before its start")
        if offset >= ml:
            out += out[start:start + ml]
        else:  # overlapping copy: repeat the last `offset` bytes
            pattern = bytes(out[start:])
            out += (pattern * (ml // offset + 1))[:ml]
    if len(out) != size:
        raise CompressionError(
            271, f"LZ4 block decompressed to {len(out)} bytes, header says {size}")
    return bytes(out)


METHOD_NONE = 0x02
METHOD_LZ4 = 0x82
METHOD_ZSTD = 0x90


def native_decompress(body, verify_checksums=True):
    """Decode a stream of ClickHouse native compressed blocks (`decompress=1` bodies)."""
    out = []
    i, n = 0, len(body)
    view = memoryview(body)
    while i < n:
        if n - i < 25:
            raise CompressionError(271, "truncated compressed block header")
        method = body[i + 16]
        csize, dsize = struct.unpack_from("<II", body, i + 17)
        if csize < 9 or i + 16 + csize > n:
            raise CompressionError(271, f"truncated compressed block ({csize} bytes declared)")
        block = view[i + 16:i + 16 + csize]
        if verify_checksums and block_checksum(block) != bytes(view[i:i + 16]):
            raise CompressionError(40, "Checksum doesn't match: corrupted data (compressed block)")
        payload = block[9:]
        if method == METHOD_LZ4:
            out.append(lz4_block_decompress(payload, dsize))
        elif method == METHOD_NONE:
            if len(payload) != dsize:
                raise CompressionError(271, "uncompressed block size mismatch")
            out.append(bytes(payload))
        else:
            raise CompressionError(89, f"Unknown compression method: {method:#04x} "
                                       "(this test server supports LZ4 0x82 and None 0x02)")
        i += 16 + csize
    return b"".join(out)


def native_frame_uncompressed(data, block_size=1 << 20):
    """Frame `data` as native blocks with method None (for `compress=1` responses)."""
    parts = []
    for off in range(0, len(data), block_size):
        chunk = data[off:off + block_size]
        block = struct.pack("<BII", METHOD_NONE, 9 + len(chunk), len(chunk)) + chunk
        parts.append(block_checksum(block) + block)
    return b"".join(parts)


# --------------------------------------------------------------------------------------
# The server.

# HTTP-interface parameters that are not settings (everything else in the URL is a setting).
NOT_SETTINGS = {
    "query", "database", "default_format", "compress", "decompress", "user", "password",
    "quota_key", "query_id", "session_id", "session_timeout", "session_check", "stacktrace",
    "role", "buffer_size", "wait_end_of_query", "enable_http_compression",
    "http_zlib_compression_level", "http_native_compression_disable_checksumming_on_decompress",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms",
    "add_http_cors_header", "cancel_http_readonly_queries_on_client_close",
    "http_response_buffer_size", "client_protocol_version", "output_format_parallel_formatting",
    "http_wait_end_of_query", "http_write_exception_in_output_format",
}

# ClickHouse's exceptionCodeToHTTPStatus for the common codes (names resolved at start-up).
STATUS_BY_ERROR_NAME = {
    400: ["CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE", "CANNOT_PARSE_QUOTED_STRING",
          "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
          "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6",
          "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN",
          "ILLEGAL_COLUMN", "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE",
          "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST", "UNEXPECTED_AST_STRUCTURE",
          "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH", "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
          "UNKNOWN_QUERY_PARAMETER", "BAD_QUERY_PARAMETER"],
    401: ["UNKNOWN_USER", "WRONG_PASSWORD", "REQUIRED_PASSWORD", "AUTHENTICATION_FAILED"],
    403: ["ACCESS_DENIED", "READONLY"],
    404: ["UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE",
          "UNKNOWN_STORAGE", "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING",
          "UNKNOWN_AGGREGATE_FUNCTION", "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE",
          "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE"],
    408: ["TIMEOUT_EXCEEDED"],
    411: ["HTTP_LENGTH_REQUIRED"],
    413: ["QUERY_IS_TOO_LARGE"],
    501: ["NOT_IMPLEMENTED"],
    503: ["SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"],
}

CONTENT_TYPES = [
    (re.compile(r"^(TabSeparated|TSV)", re.I), "text/tab-separated-values; charset=UTF-8"),
    (re.compile(r"^CSV", re.I), "text/csv; charset=UTF-8; header=absent"),
    (re.compile(r"^(JSON|NDJSON)", re.I), "application/json; charset=UTF-8"),
    (re.compile(r"^(RowBinary|Native|Arrow|Parquet|ORC|Avro|MsgPack|Protobuf|CapnProto)", re.I),
     "application/octet-stream"),
]

# `INSERT ... FORMAT Name` as a complete URL query (the body is then the data).
INSERT_FORMAT_AT_END = re.compile(
    r"^\s*(INSERT\b.*?)\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*$", re.I | re.S)
# `INSERT ... FORMAT Name <data>` inside a body: data starts after the whitespace that
# follows the format name, up to and including the first newline (as in ClickHouse).
INSERT_FORMAT_PREFIX = re.compile(
    rb"^\s*(INSERT\b[^']*?)\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)(?:[ \t\f\v]*(?:\r?\n)?)", re.I | re.S)
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z][A-Za-z0-9_]*)\s*;?\s*$", re.I)
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KILL_QUERY = re.compile(r"^\s*KILL\s+QUERY\b", re.I)
KILL_BY_ID = re.compile(
    r"^\s*KILL\s+QUERY\s+WHERE\s+query_id\s*=\s*"
    r"(?:'((?:[^'\\]|\\.)*)'|\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*String\s*\})"
    r"(?:\s+(SYNC|ASYNC|TEST))?(?:\s+FORMAT\s+([A-Za-z][A-Za-z0-9_]*))?\s*;?\s*$", re.I | re.S)
ERROR_CODE = re.compile(r"Code:\s*(\d+)\.")


class QueryError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Engine:
    """One chdb session; every request runs under one lock."""

    def __init__(self, data_dir):
        import chdb  # noqa: F401  (imported here so --help works without chdb)
        from chdb import session as chs

        self.chdb_version = getattr(chdb, "__version__", "?")
        self.session = chs.Session(data_dir)
        self.lock = threading.Lock()
        # query_id -> {"query", "running", "killed"} for every request not yet finished;
        # guarded by its own lock, so that KILL QUERY never waits for the query lock.
        self.queries = {}
        self.queries_lock = threading.Lock()
        self.version = self._scalar("SELECT version()")
        self.timezone = self._scalar("SELECT timezone()")
        names = self._scalar(
            "SELECT arrayStringConcat(groupArray(concat(toString(number), ':', "
            "errorCodeToName(number))), ',') FROM numbers(2000) WHERE errorCodeToName(number) != ''")
        self.error_codes = {}
        for item in names.split(","):
            code, _, name = item.partition(":")
            self.error_codes[name] = int(code)
        self.status_by_code = {}
        for status, error_names in STATUS_BY_ERROR_NAME.items():
            for name in error_names:
                if name in self.error_codes:
                    self.status_by_code[self.error_codes[name]] = status

    def _scalar(self, sql):
        return self.session.query(sql, "TabSeparatedRaw").bytes().decode().strip()

    def code(self, name, fallback):
        return self.error_codes.get(name, fallback)

    def execute(self, database, settings, query, params, fmt, insert, query_id):
        """Run one request. `insert` is (head, format, data) or None."""
        text = insert[0] if insert is not None else query
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        entry = {"query": text, "running": False, "killed": False}
        with self.queries_lock:
            if query_id in self.queries:
                raise QueryError(self.code("QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING", 216),
                                 f"Query with id = {query_id} is already running.")
            self.queries[query_id] = entry
        try:
            # Wait for the query lock, but give up as soon as a KILL QUERY names this id.
            while not self.lock.acquire(timeout=0.05):
                if entry["killed"]:
                    raise QueryError(self.code("QUERY_WAS_CANCELLED", 394), "Query was cancelled.")
            try:
                with self.queries_lock:
                    if entry["killed"]:
                        raise QueryError(self.code("QUERY_WAS_CANCELLED", 394),
                                         "Query was cancelled.")
                    entry["running"] = True
                return self._execute(database, settings, query, params, fmt, insert)
            finally:
                self.lock.release()
        finally:
            with self.queries_lock:
                self.queries.pop(query_id, None)

    def kill(self, query_id, test_only):
        """KILL QUERY for one id, without the query lock: (kill_status, query_id, query) rows."""
        with self.queries_lock:
            entry = self.queries.get(query_id)
            if entry is None:
                return []
            if not test_only:
                entry["killed"] = True
            # Like ClickHouse's ASYNC answer; a running query is only marked (chdb cannot
            # interrupt it from another thread).
            return [("waiting", query_id, entry["query"])]

    def _execute(self, database, settings, query, params, fmt, insert):
        """Run one request, holding the query lock."""
        applied = []
        try:
            self._run(f"USE {quote_ident(database)}")
            for name, value in settings:
                self._run(f"SET {name} = {quote_string(value)}")
                applied.append(name)
            if insert is not None:
                head, in_fmt, data = insert
                inserter = self.session.send_insert(head, in_fmt)
                try:
                    step = 1 << 20
                    for off in range(0, len(data), step):
                        inserter.append(data[off:off + step])
                    res = inserter.finish()
                except BaseException:
                    try:
                        inserter.cancel()
                    except Exception:  # noqa: BLE001
                        pass
                    raise
                summary = {"written_rows": res.rows_written, "written_bytes": res.bytes_written,
                           "elapsed_ns": int(res.elapsed * 1e9)}
                return b"", summary
            res = self.session.query(query, fmt, params=params or None)
            body = res.bytes()
            summary = {"read_rows": res.rows_read(), "read_bytes": res.bytes_read(),
                       "written_rows": res.rows_written(), "written_bytes": res.bytes_written(),
                       "result_bytes": len(body), "elapsed_ns": int(res.elapsed() * 1e9)}
            return body, summary
        except QueryError:
            raise
        except Exception as e:  # chdb raises RuntimeError/ChdbError with "Code: n. ..."
            raise self.to_query_error(e) from None
        finally:
            for name in applied:
                try:
                    self._run(f"SET {name} = DEFAULT")
                except Exception:  # noqa: BLE001
                    pass

    def _run(self, sql):
        try:
            self.session.query(sql, "TabSeparated")
        except Exception as e:  # noqa: BLE001
            raise self.to_query_error(e) from None

    def to_query_error(self, exc):
        if isinstance(exc, UnicodeDecodeError):
            # chdb decodes ClickHouse's message strictly, and ClickHouse truncates long
            # messages at a byte count, possibly inside a character (a 427 quoting a long
            # non-ASCII pattern did): recover the message as ClickHouse sent it.
            text = bytes(exc.object).decode("utf-8", "replace")
        else:
            text = str(exc)
        m = ERROR_CODE.search(text)
        if m:
            return QueryError(int(m.group(1)), text[m.start():].strip())
        code = self.code("LOGICAL_ERROR", 49)
        return QueryError(code, f"Code: {code}. DB::Exception: {text}")


def unescape(text):
    """A value in ClickHouse's escaped text form (as `param_<name>` and '...' carry it)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            i += 1
            c = {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "b": "\b", "f": "\f"}.get(
                text[i], text[i])
        out.append(c)
        i += 1
    return "".join(out)


def tsv_field(value):
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def kill_query(engine, query, params, fmt):
    """`KILL QUERY WHERE query_id = ...`, answered without the query lock (see Engine.kill).

    Returns the body and its format: ClickHouse's columns kill_status, query_id, user, query.
    """
    if not isinstance(query, str):
        query = query.decode("utf-8", "replace")
    m = KILL_BY_ID.match(query)
    if not m:
        raise QueryError(engine.code("NOT_IMPLEMENTED", 48),
                         "the chdb test server supports only KILL QUERY WHERE query_id = "
                         "'<id>' (or {name:String}) [SYNC|ASYNC|TEST]")
    literal, name, mode, fmt_clause = m.groups()
    if name is not None:
        if name not in params:
            raise QueryError(engine.code("UNKNOWN_QUERY_PARAMETER", 456),
                             f"Substitution `{name}` is not set")
        target = unescape(params[name])
    else:
        target = unescape(literal)
    rows = engine.kill(target, (mode or "").upper() == "TEST")
    fmt = fmt_clause or fmt
    if re.match(r"^(TabSeparated|TSV)", fmt, re.I):
        body = "".join("\t".join(tsv_field(v) for v in (status, qid, "default", q)) + "\n"
                       for status, qid, q in rows)
    elif fmt.lower() in ("jsoneachrow", "ndjson"):
        body = "".join(json.dumps({"kill_status": status, "query_id": qid, "user": "default",
                                   "query": q}) + "\n" for status, qid, q in rows)
    else:
        raise QueryError(engine.code("NOT_IMPLEMENTED", 48),
                         f"the chdb test server answers KILL QUERY in TabSeparated or "
                         f"JSONEachRow only, not {fmt}")
    return body.encode("utf-8"), fmt


def quote_ident(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_string(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_multipart(body, content_type):
    m = re.search(r'boundary="?([^";]+)"?', content_type, re.I)
    if not m:
        raise ValueError("multipart/form-data without boundary")
    delim = b"--" + m.group(1).encode("latin-1")
    fields = []
    parts = body.split(delim)
    for part in parts[1:]:
        if part.startswith(b"--"):
            break  # closing delimiter
        if part.startswith(b"\r\n"):
            part = part[2:]
        elif part.startswith(b"\n"):
            part = part[1:]
        head, sep, value = part.partition(b"\r\n\r\n")
        if not sep:
            head, sep, value = part.partition(b"\n\n")
        if value.endswith(b"\r\n"):
            value = value[:-2]
        elif value.endswith(b"\n"):
            value = value[:-1]
        name = filename = None
        for line in head.decode("utf-8", "replace").splitlines():
            if line.lower().startswith("content-disposition:"):
                nm = re.search(r'\bname="([^"]*)"', line)
                fn = re.search(r'\bfilename="([^"]*)"', line)
                name = nm.group(1) if nm else None
                filename = fn.group(1) if fn else None
        if name is None:
            raise ValueError("multipart part without a name")
        fields.append((name, filename, value))
    return fields


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 3600  # idle keep-alive connections are dropped after an hour, not sooner
    server_version = "chdb-test-server"
    sys_version = ""
    engine = None  # set in main()
    verbose = False
    verify_checksums = True

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # noqa: A003
        if self.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    # -- plumbing -----------------------------------------------------------------------

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("connection closed inside a chunked body")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while True:  # trailers
                        trailer = self.rfile.readline(65537)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)  # CRLF after the chunk
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status, body, content_type="text/plain; charset=UTF-8", headers=()):
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                 f"Date: {self.date_time_string()}",
                 "Connection: " + ("close" if self.close_connection else "Keep-Alive"),
                 f"Content-Type: {content_type}",
                 f"Content-Length: {len(body)}"]
        if not self.close_connection:
            lines.append("Keep-Alive: timeout=30")
        lines += [f"{k}: {v}" for k, v in headers]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head if self.command == "HEAD" else head + body)
        self.log_request(status, len(body))

    def send_error_response(self, code, message, status=None):
        engine = self.engine
        if status is None:
            status = engine.status_by_code.get(code, 500)
        text = message if message.startswith("Code:") else f"Code: {code}. DB::Exception: {message}"
        text = f"{text} (version {engine.version} (chdb test server))\n"
        self.send(status, text.encode("utf-8", "replace"),
                  headers=[("X-ClickHouse-Exception-Code", str(code)),
                           ("X-ClickHouse-Server-Display-Name", "chdb")])

    # -- HTTP methods -------------------------------------------------------------------

    def do_GET(self):  # noqa: N802
        self.handle_any()

    def do_POST(self):  # noqa: N802
        self.handle_any()

    def do_HEAD(self):  # noqa: N802
        self.handle_any()

    def handle_any(self):
        if self.headers.get("Connection", "").lower() == "close":
            self.close_connection = True
        if self.verbose:
            shown = [f"{k}: {v}" for k, v in self.headers.items()
                     if k.lower() in ("content-type", "content-length", "transfer-encoding",
                                      "content-encoding", "accept-encoding", "user-agent",
                                      "x-clickhouse-database", "x-clickhouse-format")]
            self.log_message("%s %s [%s]", self.command, self.path, "; ".join(shown))
        try:
            body = self.read_body()
        except Exception:  # noqa: BLE001
            self.close_connection = True
            return
        try:
            self.dispatch(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except QueryError as e:
            self.send_error_response(e.code, str(e))
        except Exception as e:  # noqa: BLE001  (a bug here must still answer)
            self.send_error_response(self.engine.code("LOGICAL_ERROR", 49),
                                     f"test server: {type(e).__name__}: {e}")

    def dispatch(self, body):
        engine = self.engine
        url = urllib.parse.urlsplit(self.path)
        path = url.path or "/"
        if path in ("/ping", "/replicas_status"):
            return self.send(200, b"Ok.\n")
        if path != "/":
            return self.send(404, f"There is no handle {path}\n".encode())

        args = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        url_query = ""
        params = {}
        settings = []
        opts = {}
        for name, value in args:
            if name == "query":
                url_query = value
            elif name.startswith("param_"):
                params[name[len("param_"):]] = value
            elif name in NOT_SETTINGS:
                opts[name] = value
            else:
                settings.append((name, value))

        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if body and encoding in ("gzip", "x-gzip"):
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif body and encoding == "deflate":
            body = zlib.decompress(body)
        elif body and encoding not in ("", "identity"):
            raise QueryError(engine.code("UNKNOWN_COMPRESSION_METHOD", 89),
                             f"Unsupported Content-Encoding: {encoding}")

        if opts.get("decompress") in ("1", "true") and body:
            try:
                body = native_decompress(body, self.verify_checksums)
            except CompressionError as e:
                raise QueryError(e.code, str(e)) from None
            except IndexError:
                raise QueryError(271, "truncated LZ4 block") from None

        ctype = self.headers.get("Content-Type", "")
        if body and ctype.lower().startswith("multipart/form-data"):
            try:
                fields = parse_multipart(body, ctype)
            except ValueError as e:
                raise QueryError(engine.code("BAD_ARGUMENTS", 36), str(e)) from None
            body = b""
            for name, filename, value in fields:
                if filename is not None:
                    raise QueryError(engine.code("NOT_IMPLEMENTED", 48),
                                     "external data (files in multipart bodies) is not supported "
                                     "by the chdb test server")
                text = value.decode("utf-8", "replace")
                if name == "query":
                    body = value
                elif name.startswith("param_"):
                    params[name[len("param_"):]] = text
                elif name in NOT_SETTINGS:
                    opts[name] = text
                else:
                    settings.append((name, text))

        for name, _ in settings:
            if not SETTING_NAME.match(name):
                raise QueryError(engine.code("UNKNOWN_SETTING", 115), f"Unknown setting '{name}'")

        database = opts.get("database") or self.headers.get("X-ClickHouse-Database") or "default"
        fmt = opts.get("default_format") or self.headers.get("X-ClickHouse-Format") or "TabSeparated"

        insert = None
        query = None
        if url_query and body:
            m = INSERT_FORMAT_AT_END.match(url_query)
            if m:
                insert = (m.group(1).strip(), m.group(2), body)
            else:
                query = url_query.encode("utf-8") + b"\n" + body
        elif url_query:
            query = url_query
        elif body:
            m = INSERT_FORMAT_PREFIX.match(body)
            if m:
                insert = (m.group(1).decode("utf-8", "replace").strip(),
                          m.group(2).decode("ascii"), body[m.end():])
            else:
                query = body
        else:
            if self.command in ("GET", "HEAD"):
                return self.send(200, b"Ok.\n")
            raise QueryError(engine.code("SYNTAX_ERROR", 62), "Empty query")

        if isinstance(query, bytes):
            try:
                query = query.decode("utf-8")
            except UnicodeDecodeError:
                pass  # chdb accepts bytes too

        out_fmt = fmt
        if query is not None:
            tail = query if isinstance(query, str) else query.decode("utf-8", "replace")
            m = TRAILING_FORMAT.search(tail[-200:])
            if m:
                out_fmt = m.group(1)

        query_id = opts.get("query_id") or str(uuid.uuid4())
        started = time.monotonic()
        if isinstance(query, str) and KILL_QUERY.match(query):
            result, out_fmt = kill_query(engine, query, params, out_fmt)
            summary = {"result_bytes": len(result)}
        else:
            result, summary = engine.execute(database, settings, query, params, fmt, insert,
                                             query_id)
        summary.setdefault("elapsed_ns", int((time.monotonic() - started) * 1e9))
        if insert is not None:
            out_fmt = fmt

        headers = [
            ("X-ClickHouse-Server-Display-Name", "chdb"),
            ("X-ClickHouse-Query-Id", query_id),
            ("X-ClickHouse-Format", out_fmt),
            ("X-ClickHouse-Timezone", engine.timezone),
            ("X-ClickHouse-Summary", json.dumps(
                {k: str(summary.get(k, 0)) for k in (
                    "read_rows", "read_bytes", "written_rows", "written_bytes",
                    "total_rows_to_read", "result_bytes", "elapsed_ns")},
                separators=(",", ":"))),
        ]
        content_type = "text/plain; charset=UTF-8"
        for pattern, ct in CONTENT_TYPES:
            if pattern.match(out_fmt):
                content_type = ct
                break
        if opts.get("compress") in ("1", "true"):
            result = native_frame_uncompressed(result)
            content_type = "application/octet-stream"
        self.send(200, result, content_type, headers)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8123, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--data-dir", required=True, help="chdb data directory (created if missing)")
    ap.add_argument("--pid-file", help="write the server's PID here once listening")
    ap.add_argument("--remove-on-exit", action="append", default=[], metavar="PATH",
                    help="delete this directory when the server exits (repeatable)")
    ap.add_argument("--no-verify-checksums", action="store_true",
                    help="skip CityHash128 checks of decompress=1 blocks (faster for big inserts)")
    ap.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = ap.parse_args(argv)

    os.makedirs(args.data_dir, exist_ok=True)
    Handler.engine = Engine(args.data_dir)
    Handler.verbose = args.verbose
    Handler.verify_checksums = not args.no_verify_checksums

    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for path, value in ((args.pid_file, os.getpid()), (args.port_file, port)):
        if path:
            with open(path + ".tmp", "w") as f:
                f.write(f"{value}\n")
            os.replace(path + ".tmp", path)
    sys.stderr.write(f"chdb test server (ClickHouse {Handler.engine.version}) "
                     f"listening on http://{args.host}:{port}\n")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        try:
            Handler.engine.session.close()
        except Exception:  # noqa: BLE001
            pass
        for path in args.remove_on_exit:
            shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
