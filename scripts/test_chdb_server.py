#!/usr/bin/env python3
"""Smoke test of scripts/chdb_server.py over real HTTP (stdlib unittest + urllib only).

    .venv/chdb/bin/python scripts/test_chdb_server.py      # or any python3: the server
                                                            # itself runs on .venv/chdb
It starts its own server on a free port with a temporary data directory (the venv must
exist: scripts/start-clickhouse.sh creates it).
"""

import http.client
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no scripts/__pycache__ in the work tree
import chdb_server  # noqa: E402  (CityHash128 and the LZ4 decoder, no chdb needed)


def server_python():
    if os.environ.get("CHDB_PYTHON"):
        return os.environ["CHDB_PYTHON"]
    venv = os.path.join(ROOT, ".venv", "chdb", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable


def lz4_compress(data):
    """A small greedy LZ4 block compressor (4-byte hash matches, overlapping allowed)."""
    n = len(data)
    out = bytearray()
    table = {}
    anchor = i = 0

    def put_len(extra):
        while extra >= 255:
            out.append(255)
            extra -= 255
        out.append(extra)

    # The last match must start at least 12 bytes before the end; the last 5 are literals.
    while i + 12 <= n:
        key = data[i:i + 4]
        cand = table.get(key)
        table[key] = i
        if cand is None or i - cand > 0xFFFF:
            i += 1
            continue
        ml = 4
        while i + ml < n - 5 and data[cand + ml] == data[i + ml]:
            ml += 1
        lit = i - anchor
        out.append((min(lit, 15) << 4) | min(ml - 4, 15))
        if lit >= 15:
            put_len(lit - 15)
        out += data[anchor:i]
        out += struct.pack("<H", i - cand)
        if ml - 4 >= 15:
            put_len(ml - 4 - 15)
        i += ml
        anchor = i
    lit = n - anchor
    out.append(min(lit, 15) << 4)
    if lit >= 15:
        put_len(lit - 15)
    out += data[anchor:]
    return bytes(out)


def native_block(data, method=chdb_server.METHOD_LZ4, corrupt=False):
    payload = lz4_compress(data) if method == chdb_server.METHOD_LZ4 else data
    block = struct.pack("<BII", method, 9 + len(payload), len(data)) + payload
    checksum = chdb_server.block_checksum(block)
    if corrupt:
        checksum = bytes([checksum[0] ^ 1]) + checksum[1:]
    return checksum + block


EVENTS_DDL = """
CREATE TABLE events (
    id UUID DEFAULT generateUUIDv4(),
    name LowCardinality(String),
    device_id String CODEC(ZSTD(3)),
    profile_id String CODEC(ZSTD(3)),
    project_id String CODEC(ZSTD(3)),
    session_id String CODEC(LZ4),
    path String CODEC(ZSTD(3)),
    origin String CODEC(ZSTD(3)),
    referrer String CODEC(ZSTD(3)),
    duration UInt64 CODEC(Delta(4), LZ4),
    properties Map(String, String) CODEC(ZSTD(3)),
    created_at DateTime64(3) CODEC(DoubleDelta, ZSTD(3)),
    country LowCardinality(FixedString(2)),
    city String,
    longitude Nullable(Float64),
    latitude Nullable(Float64),
    os LowCardinality(String),
    browser LowCardinality(String),
    imported_at Nullable(DateTime) CODEC(Delta(4), LZ4)
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(created_at)
ORDER BY (project_id, toDate(created_at), profile_id, name)
"""

EVENTS = [
    {"id": "8c0a8f56-5b0b-4a4f-9a57-3a3c6b0f0001", "name": "screen_view", "project_id": "p1",
     "profile_id": "u1", "path": "/home", "properties": {"plan": "pro", "ref": "x'y"},
     "created_at": "2024-05-01 10:00:00.123", "country": "SE", "city": "Göteborg",
     "longitude": 11.97, "latitude": 57.7, "os": "iOS", "browser": "Safari"},
    {"id": "8c0a8f56-5b0b-4a4f-9a57-3a3c6b0f0002", "name": "click", "project_id": "p1",
     "profile_id": "u2", "path": "/pricing", "properties": {},
     "created_at": "2024-05-01 10:00:01.000", "country": "DE", "city": "Berlin",
     "longitude": None, "latitude": None, "os": "Linux", "browser": "Firefox", "duration": 42},
    {"id": "8c0a8f56-5b0b-4a4f-9a57-3a3c6b0f0003", "name": "screen_view", "project_id": "p2",
     "profile_id": "u3", "path": "/", "properties": {"plan": "free"},
     "created_at": "2024-05-02 00:00:00.000", "country": "US", "city": "",
     "os": "Windows", "browser": "Edge"},
]


class ChdbServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="chdb-test-")
        port_file = os.path.join(cls.tmp, "port")
        cls.log = open(os.path.join(cls.tmp, "server.log"), "wb")
        cls.proc = subprocess.Popen(
            [server_python(), os.path.join(HERE, "chdb_server.py"), "--port", "0",
             "--port-file", port_file, "--data-dir", os.path.join(cls.tmp, "data"),
             "--remove-on-exit", cls.tmp],
            stdout=cls.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 90
        while not os.path.exists(port_file):
            if cls.proc.poll() is not None or time.monotonic() > deadline:
                cls.log.flush()
                raise RuntimeError("server did not start: " + open(cls.log.name).read())
            time.sleep(0.1)
        with open(port_file) as f:
            cls.port = int(f.read())
        cls.base = f"http://127.0.0.1:{cls.port}"
        cls.request("POST", "/", EVENTS_DDL.encode())
        body = "\n".join(json.dumps(e) for e in EVENTS).encode()
        status, _, text = cls.request(
            "POST", "/?" + urllib.parse.urlencode({"query": "INSERT INTO events FORMAT JSONEachRow"}),
            body)
        assert status == 200, text

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        try:
            cls.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait()
        cls.log.close()

    @classmethod
    def request(cls, method, path, body=None, headers=None):
        req = urllib.request.Request(cls.base + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def query(self, sql, body=None, **params):
        params["query"] = sql
        status, headers, data = self.request(
            "POST" if body is not None else "GET", "/?" + urllib.parse.urlencode(params), body)
        self.assertEqual(status, 200, data)
        return data

    # ---------------------------------------------------------------------------------

    def test_ping(self):
        status, _, body = self.request("GET", "/ping")
        self.assertEqual((status, body), (200, b"Ok.\n"))
        status, _, body = self.request("GET", "/")
        self.assertEqual((status, body), (200, b"Ok.\n"))

    def test_select_tsv_default_and_format_clause(self):
        self.assertEqual(self.query("SELECT count() FROM events"), b"3\n")
        rows = self.query("SELECT name, properties['plan'] AS plan FROM events "
                          "WHERE project_id = 'p1' ORDER BY created_at FORMAT JSONEachRow")
        self.assertEqual([json.loads(r) for r in rows.splitlines()],
                         [{"name": "screen_view", "plan": "pro"}, {"name": "click", "plan": ""}])
        data = self.query("SELECT city, longitude FROM events ORDER BY created_at",
                          default_format="JSONCompactEachRow")
        self.assertEqual([json.loads(r) for r in data.splitlines()],
                         [["Göteborg", 11.97], ["Berlin", None], ["", None]])

    def test_query_in_body_and_url_concatenated(self):
        # ClickHouse joins the URL query and the body with a newline.
        data = self.query("SELECT name FROM events", body=b"WHERE profile_id = 'u2'")
        self.assertEqual(data, b"click\n")

    def test_rowbinary_with_names_and_types(self):
        data = self.query("SELECT toInt64(duration) AS d, name FROM events WHERE profile_id = 'u2'",
                          default_format="RowBinaryWithNamesAndTypes")
        expected = (b"\x02\x01d\x04name\x05Int64\x16LowCardinality(String)"
                    + struct.pack("<q", 42) + b"\x05click")
        self.assertEqual(data, expected)

    def test_params_in_url(self):
        data = self.query(
            "SELECT count() FROM events WHERE name = {p1:String} AND duration >= {p2:Int64}",
            param_p1="click", param_p2="40")
        self.assertEqual(data, b"1\n")
        # Escaped text form, as over ClickHouse HTTP: \t is a tab; arrays and floats.
        data = self.query("SELECT length({s:String}), {a:Array(String)}, {f:Float64} * 2",
                          param_s="a\\tb'c", param_a="['x','y\\'z']", param_f="1.25")
        self.assertEqual(data, b"5\t['x','y\\'z']\t2.5\n")

    def test_params_in_multipart_body(self):
        boundary = "----quarry" + uuid.uuid4().hex
        fields = [("query", "SELECT profile_id FROM events WHERE name = {p1:String} "
                            "AND created_at >= {p2:Int64} ORDER BY profile_id"),
                  ("param_p1", "screen_view"), ("param_p2", "0")]
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields) + f"--{boundary}--\r\n".encode()
        status, _, data = self.request(
            "POST", "/?default_format=TSV", body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        self.assertEqual((status, data), (200, b"u1\nu3\n"))

    def test_missing_param_and_unknown_table_errors(self):
        status, headers, body = self.request(
            "GET", "/?" + urllib.parse.urlencode({"query": "SELECT * FROM no_such_table"}))
        self.assertEqual(status, 404)
        self.assertEqual(headers["X-ClickHouse-Exception-Code"], "60")
        self.assertTrue(body.startswith(b"Code: 60. DB::Exception: "), body)
        status, headers, body = self.request(
            "GET", "/?" + urllib.parse.urlencode({"query": "SELEC 1"}))
        self.assertEqual((status, headers["X-ClickHouse-Exception-Code"]), (400, "62"))
        status, headers, _ = self.request(
            "GET", "/?" + urllib.parse.urlencode({"query": "SELECT {x:Int64}"}))
        self.assertEqual((status, headers["X-ClickHouse-Exception-Code"]), (400, "456"))
        status, headers, _ = self.request(
            "GET", "/?" + urllib.parse.urlencode({"query": "SELECT throwIf(1)"}))
        self.assertEqual((status, headers["X-ClickHouse-Exception-Code"]), (500, "395"))

    def test_database_param_and_header(self):
        self.query("CREATE DATABASE IF NOT EXISTS other")
        self.query("CREATE TABLE IF NOT EXISTS other.t (a Int8) ENGINE = Memory")
        self.assertEqual(self.query("SELECT currentDatabase()", database="other"), b"other\n")
        status, _, body = self.request(
            "GET", "/?query=SELECT+currentDatabase()", headers={"X-ClickHouse-Database": "other"})
        self.assertEqual((status, body), (200, b"other\n"))
        self.assertEqual(self.query("SELECT currentDatabase()"), b"default\n")

    def test_settings_are_per_request(self):
        self.assertEqual(self.query("SELECT getSetting('max_block_size')", max_block_size="1234"),
                         b"1234\n")
        self.assertNotEqual(self.query("SELECT getSetting('max_block_size')"), b"1234\n")

    def test_query_id_is_not_a_setting(self):
        status, headers, body = self.request(
            "GET", "/?" + urllib.parse.urlencode({"query": "SELECT 1", "query_id": "q-1"}))
        self.assertEqual((status, body, headers["X-ClickHouse-Query-Id"]), (200, b"1\n", "q-1"))

    def test_kill_query_answers_at_once_and_cancels_a_waiting_query(self):
        self.query("CREATE TABLE t_kill (a Int64) ENGINE = Memory")
        results = {}

        def run(name, sql, **params):
            params["query"] = sql
            results[name] = self.request("POST", "/?" + urllib.parse.urlencode(params), b"")
            results[name + "_at"] = time.monotonic()

        # `long` holds the query lock for 2 s (chdb cannot interrupt it); `queued` waits.
        long = threading.Thread(target=run, args=(
            "long", "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 5"),
            kwargs={"query_id": "kill-long", "max_execution_time": "2", "max_threads": "1"})
        long.start()
        time.sleep(0.3)
        queued = threading.Thread(target=run, args=("queued", "INSERT INTO t_kill SELECT 1"),
                                  kwargs={"query_id": "kill-queued"})
        queued.start()
        time.sleep(0.3)

        started = time.monotonic()
        self.assertEqual(self.query("KILL QUERY WHERE query_id = 'kill-queued' ASYNC"),
                         b"waiting\tkill-queued\tdefault\tINSERT INTO t_kill SELECT 1\n")
        data = self.query("KILL QUERY WHERE query_id = {id:String} ASYNC FORMAT JSONEachRow",
                          param_id="kill-long")
        self.assertEqual(json.loads(data)["kill_status"], "waiting")
        self.assertEqual(self.query("KILL QUERY WHERE query_id = 'nobody' ASYNC"), b"")
        # The same id again while the first is not finished.
        status, headers, _ = self.request(
            "GET", "/?" + urllib.parse.urlencode({"query": "SELECT 1", "query_id": "kill-long"}))
        self.assertEqual((status, headers["X-ClickHouse-Exception-Code"]), (500, "216"))
        self.assertLess(time.monotonic() - started, 1.0)

        queued.join(10)
        status, headers, _ = results["queued"]
        self.assertEqual((status, headers["X-ClickHouse-Exception-Code"]), (500, "394"))
        self.assertLess(results["queued_at"] - started, 1.0)
        long.join(20)
        status, headers, _ = results["long"]
        self.assertEqual(headers["X-ClickHouse-Exception-Code"], "159")
        self.assertEqual(self.query("SELECT count() FROM t_kill"), b"0\n")

    def test_insert_body_with_query(self):
        self.query("CREATE TABLE t_body (a Int64, s String) ENGINE = Memory")
        self.request("POST", "/", b"INSERT INTO t_body FORMAT TSV\n1\tx\n2\ty\n")
        self.assertEqual(self.query("SELECT sum(a), groupArray(s) FROM t_body"),
                         b"3\t['x','y']\n")

    def test_rowbinary_insert_keeps_trailing_newline(self):
        self.query("CREATE TABLE t_rb (a Int64, s String) ENGINE = Memory")
        data = struct.pack("<q", 10) + b"\x02\n\n" + struct.pack("<q", 7) + b"\x01\n"
        self.query("INSERT INTO t_rb (a, s) FORMAT RowBinary", body=data)
        self.assertEqual(self.query("SELECT a, hex(s) FROM t_rb ORDER BY a"), b"7\t0A\n10\t0A0A\n")

    def test_chunked_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", "/?" + urllib.parse.urlencode({"query": "SELECT 1 + "}),
                         body=iter([b"1", b" AS x"]), encode_chunked=True)
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (200, b"2\n"))
            sock = conn.sock
            started = time.monotonic()
            for _ in range(20):
                conn.request("GET", "/ping")
                resp = conn.getresponse()
                self.assertEqual(resp.read(), b"Ok.\n")
            self.assertIs(conn.sock, sock, "keep-alive connection was not reused")
            # Without TCP_NODELAY each of these would take ~40 ms.
            self.assertLess(time.monotonic() - started, 0.5)
        finally:
            conn.close()

    def test_lz4_compressed_insert(self):
        self.query("CREATE TABLE t_lz4 (id UInt32, name String, props Map(String, String)) "
                   "ENGINE = MergeTree ORDER BY id")
        rows = "".join(json.dumps({"id": i, "name": f"event_{i % 7}", "props": {"k": "v" * (i % 5)}})
                       + "\n" for i in range(2000)).encode()
        half = len(rows) // 2
        cut = rows.index(b"\n", half) + 1
        body = native_block(rows[:cut]) + native_block(rows[cut:], chdb_server.METHOD_NONE)
        self.assertLess(len(body), len(rows))
        self.query("INSERT INTO t_lz4 FORMAT JSONEachRow", body=body, decompress="1")
        self.assertEqual(self.query("SELECT count(), sum(id), uniqExact(name) FROM t_lz4"),
                         b"2000\t1999000\t7\n")

    def test_lz4_bad_checksum_is_rejected(self):
        body = native_block(b'{"a":1}\n', corrupt=True)
        status, headers, _ = self.request(
            "POST", "/?" + urllib.parse.urlencode(
                {"query": "INSERT INTO t_nowhere FORMAT JSONEachRow", "decompress": "1"}), body)
        self.assertEqual((status, headers["X-ClickHouse-Exception-Code"]), (500, "40"))

    def test_compress_response(self):
        status, _, body = self.request("GET", "/?query=SELECT+42&compress=1")
        self.assertEqual(status, 200)
        self.assertEqual(chdb_server.native_decompress(body), b"42\n")


class CodecTest(unittest.TestCase):
    def test_cityhash128_reference_vectors(self):
        # From CityHash v1.0.2's test suite (data[i*i : i*i+i] of its generated input).
        k0, m = 0xC3A5C85C97CB3127, (1 << 64) - 1
        data = bytearray(300 * 300)
        a, b = 9, 777
        for i in range(len(data)):
            a = ((a ^ (a >> 41)) * k0 + b) & m
            b = ((b ^ (b >> 41)) * k0 + i) & m
            data[i] = (b >> 37) & 0xFF
        vectors = {
            0: (0x3DF09DFC64C09A2B, 0x3CB540C392E51E29),
            7: (0xB298265EBD1BD55F, 0x4A5F6838B55C0B08),
            15: (0x1C66CEEA473413DF, 0xDC3F70A124B25A40),
            16: (0x8505C996B70EE9FC, 0xB92BBA6B5D778EB7),
            31: (0x441133D221486A3D, 0x0FB9C5A40E19515B),
            127: (0x664EC3FAD8521859, 0x406F082BEB9CA29A),
            128: (0x5414E385F5677A6D, 0x41EF105F8A682A28),
            200: (0xAC61387D34B8EBA3, 0xF658ECEFF68E4F98),
            298: (0x19FA48781CE2B326, 0xF34FC200E9CA457C),
        }
        for i, expected in vectors.items():
            self.assertEqual(chdb_server.cityhash128(bytes(data[i * i:i * i + i])), expected, i)
            if chdb_server._CityHash128 is not None:
                # The C accelerator gives the same checksum bytes as the pure-Python hash.
                low, high = expected
                self.assertEqual(chdb_server.block_checksum(bytes(data[i * i:i * i + i])),
                                 struct.pack("<QQ", low, high), i)

    def test_lz4_roundtrip(self):
        for sample in [b"", b"a", b"abcabcabcabcabcabcabcabc" * 50, bytes(range(256)) * 40,
                       b"x" * 100000, os.urandom(3000)]:
            self.assertEqual(
                chdb_server.lz4_block_decompress(lz4_compress(sample), len(sample)), sample)

    def test_an_error_message_cut_inside_a_character_keeps_its_code(self):
        # ClickHouse truncates long messages at a byte count; chdb then fails to decode them.
        raw = "Code: 427. DB::Exception: cannot compile re2: (a{9}){200}\u00e6".encode()[:-1]
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            exc = e
        stub = type("Stub", (), {"code": lambda self, name, fallback: fallback})()
        err = chdb_server.Engine.to_query_error(stub, exc)
        self.assertEqual(err.code, 427)
        self.assertIn("cannot compile re2", str(err))


if __name__ == "__main__":
    unittest.main(verbosity=2)
