#!/usr/bin/env python3
"""Abuse test: what hostile requests cost the server.

For each attack below a fresh `quarry serve` (release binary, embedded SQLite, N seeded
events, RUST_LOG=error, QUARRY_RATE_LIMIT=off unless the attack needs a limit) is started
on 127.0.0.1 and measured from /proc/<pid>: peak RSS (VmHWM, plus VmRSS sampled every
50 ms), CPU seconds (utime + stime) spent during the attack, and whether the process
survived. Two threads probe every ~200 ms meanwhile: `GET /healthz` and an ordinary 30-day
chart from a second, already authenticated client (the victim). Prints a Markdown table,
then per-attack notes; `--json` writes the raw results (RSS samples included).

    regex_memory      400 x "(a{1,255}){1,255}" regex values on /export/events (~18 KB URL), 5 times
    chart_memory      20 x {"name":"*"}, session_id breakdown, minute interval over ~9 990 minutes,
                      previous=true, offset=100000
    regex_cpu         2 concurrent /export/events, each with as many "([ab]{1,255}){1,255}" as fit
                      a URL under 64 KiB
    timeout_hold      QUARRY_QUERY_TIMEOUT=5; 8 concurrent charts with 990 `contains` values, ~20 s
    deep_expression   one chart with 1 000 `contains` values
    scrypt_flood      64 concurrent requests with distinct wrong secrets for the attacker's id, ~15 s
    rate_limit_theft  QUARRY_RATE_LIMIT=5/10s; 5 wrong secrets with the victim's id, then the victim's
                      valid request; then 5 000 requests with distinct 120 KB client-id headers
    http_limits       raw sockets: a URL >= 64 KiB, \\x01 and \\x7f in the target, a head > 128 KiB
                      (and one with 100 headers)
    flood_valid       baseline: 8 threads of ordinary charts from the attacker for 10 s

Every socket has a timeout and every attack a wall-clock cap (--cap, 60 s): an attack still
waiting for the server then is reported as "cut at 60 s". A server whose RSS passes
--rss-cap-mib is killed by this script (reported as such) to protect the machine. Only
127.0.0.1 is ever contacted. Python 3 standard library only.

Usage: benches/abuse.py [--bin PATH] [--only NAME,...] [--events N] [--json PATH]
                        [--cap SECONDS] [--rss-cap-mib MIB]
Without --bin it builds the release binary first, as benches/load.sh does
(`${CARGO_TARGET_DIR:-target}/release/quarry`). Takes about 4–5 minutes on 2 cores.
"""

import argparse
import collections
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = "abuse"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
# The ordinary request: what the victim (and the baseline flood) asks for.
ORDINARY = None  # set in main() (needs the encoder)
# Largest request target the server's HTTP stack accepts (the `http` crate: u16::MAX - 1);
# the regex_cpu URL stays under it with a little room.
URL_BUDGET = 65_000


# ---------------------------------------------------------------------------------------
# Query strings

# Characters left as they are in query values: legal in a request target and without
# meaning to the server's form-urlencoded decoder. `"`, `%`, `&`, `+`, `=`, `#`, space,
# `<`, `>` and non-ASCII are percent-encoded.
COMPACT_SAFE = "()[]{},:*!$'@/;|^~`?"


def dumps(value):
    return json.dumps(value, separators=(",", ":"))


def qs(params, strict=False):
    """`k=v&…` with JSON values for lists/dicts; strict percent-encodes every reserved byte."""
    safe = "" if strict else COMPACT_SAFE
    parts = []
    for key, value in params:
        text = value if isinstance(value, str) else dumps(value)
        parts.append(f"{key}={urllib.parse.quote(text, safe=safe)}")
    return "&".join(parts)


def chart_target(events, **extra):
    params = [("events", events)] + list(extra.items())
    return "/export/charts?" + qs(params)


def contains_event(n, tag):
    """A `*` event with one `contains` filter of n distinct short values."""
    values = [f"{tag}{i:x}" for i in range(n)]
    return [{"name": "*", "filters": [{"name": "path", "operator": "contains", "value": values}]}]


# ---------------------------------------------------------------------------------------
# HTTP

def classify(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        return "closed"
    return type(exc).__name__


def remaining(deadline, floor=0.05):
    return max(floor, deadline - time.monotonic())


class Conn:
    """One keep-alive connection, reopened after errors; every operation times out at
    `deadline`. A stale keep-alive connection is retried once on a fresh one."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def close(self):
        if self.c is not None:
            try:
                self.c.close()
            except OSError:
                pass
        self.c = None

    def get(self, target, headers, deadline):
        """(status or error name, body bytes, response headers or None)."""
        for attempt in (0, 1):
            fresh = self.c is None
            if fresh:
                self.c = http.client.HTTPConnection("127.0.0.1", self.port,
                                                    timeout=remaining(deadline))
            else:
                self.c.timeout = remaining(deadline)
                if self.c.sock is not None:
                    self.c.sock.settimeout(self.c.timeout)
            try:
                self.c.request("GET", target, headers=headers)
                resp = self.c.getresponse()
                body = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, body, dict(resp.getheaders())
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                self.close()
                if fresh or attempt:
                    return classify(e), b"", None
            except Exception as e:  # noqa: BLE001 - every failure is a result here
                self.close()
                return classify(e), b"", None
        return "closed", b"", None


def one_get(port, target, headers, deadline):
    conn = Conn(port)
    try:
        return conn.get(target, headers, deadline)
    finally:
        conn.close()


def auth(client):
    return {"openpanel-client-id": client["id"], "openpanel-client-secret": client["secret"]}


def raw_exchange(port, data, timeout=10.0):
    """Send raw bytes, read until the server closes or the response is complete.
    Returns (status line, headers dict, body bytes, error or None)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    error = None
    buf = b""
    try:
        try:
            sock.sendall(data)
        except OSError as e:  # the server may answer and close before reading it all
            error = f"send: {classify(e)}"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                chunk = sock.recv(65536)
            except OSError as e:
                error = (error + "; " if error else "") + f"recv: {classify(e)}"
                break
            if not chunk:
                break
            buf += chunk
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                length = None
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip() or 0)
                if length is not None and len(body) >= length:
                    break
    finally:
        sock.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = lines[0].decode("latin-1") if buf else ""
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.decode("latin-1").strip().lower()] = v.decode("latin-1").strip()
    return status, headers, body, error


# ---------------------------------------------------------------------------------------
# Measuring the server

def read_status(pid):
    """(VmRSS KiB, VmHWM KiB) or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    vals = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            vals[k] = int(v.split()[0])
    if "VmRSS" not in vals:
        return None  # a zombie
    return vals["VmRSS"], vals.get("VmHWM", vals["VmRSS"])


def read_cpu(pid):
    """utime + stime in seconds, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Monitor(threading.Thread):
    """Samples VmRSS / VmHWM / CPU every 50 ms; kills the server past the RSS cap."""

    def __init__(self, proc, rss_cap_kib, t0):
        super().__init__(daemon=True)
        self.proc = proc
        self.cap = rss_cap_kib
        self.t0 = t0
        self.samples = []  # (seconds since t0, VmRSS KiB)
        self.hwm = 0
        self.cpu = None
        self.capped = False
        self.died_at = None
        self.stop = threading.Event()

    def sample(self):
        st = read_status(self.proc.pid)
        cpu = read_cpu(self.proc.pid)
        if st is None or self.proc.poll() is not None:
            if self.died_at is None:
                self.died_at = time.monotonic() - self.t0
            return False
        rss, hwm = st
        self.samples.append((round(time.monotonic() - self.t0, 3), rss))
        self.hwm = max(self.hwm, hwm, rss)
        if cpu is not None:
            self.cpu = cpu
        if rss > self.cap and not self.capped:
            self.capped = True
            os.kill(self.proc.pid, signal.SIGKILL)
        return True

    def run(self):
        while not self.stop.is_set():
            if not self.sample():
                return
            self.stop.wait(0.05)


class Probe(threading.Thread):
    """GET `target` on a fresh connection every ~200 ms; latencies of answers received
    before `finish()`; a request still waiting then counts with its age so far."""

    def __init__(self, port, target, headers, deadline):
        super().__init__(daemon=True)
        self.port, self.target, self.headers, self.deadline = port, target, headers, deadline
        self.lock = threading.Lock()
        self.done = False
        self.inflight = None
        self.latencies = []
        self.statuses = collections.Counter()
        self.pending = None

    def run(self):
        while True:
            with self.lock:
                if self.done:
                    return
                t0 = self.inflight = time.monotonic()
            status, _, _ = one_get(self.port, self.target, self.headers, self.deadline + 5)
            dt = time.monotonic() - t0
            with self.lock:
                if self.done:
                    return
                self.inflight = None
                self.latencies.append(dt)
                self.statuses[str(status)] += 1
            time.sleep(max(0.0, 0.2 - dt))

    def finish(self):
        with self.lock:
            self.done = True
            if self.inflight is not None:
                self.pending = time.monotonic() - self.inflight

    def report(self):
        worst = max(self.latencies, default=0.0)
        return {
            "probes": len(self.latencies),
            "max_ms": round(worst * 1000, 1),
            "still_waiting_ms": None if self.pending is None else round(self.pending * 1000, 1),
            "statuses": dict(self.statuses),
        }


def cell_probe(p):
    if p is None:
        return "–"
    if p["still_waiting_ms"] is not None and p["still_waiting_ms"] > p["max_ms"]:
        text = f"≥{p['still_waiting_ms']:.0f} ms (no answer)"
    elif p["probes"] == 0:
        return "no probe answered"
    else:
        text = f"{p['max_ms']:.0f} ms"
    bad = {k: v for k, v in p["statuses"].items() if k != "200"}
    if bad:
        text += " (" + ", ".join(f"{v}×{k}" for k, v in sorted(bad.items())) + ")"
    return text


# ---------------------------------------------------------------------------------------
# One attack run

class Run:
    """What an attack function sees: the port, the clients, the deadline, and counters."""

    def __init__(self, name, port, clients, cap, monitor):
        self.name = name
        self.port = port
        self.a, self.b, self.c = clients
        self.start = time.monotonic()
        self.deadline = self.start + cap
        self.cap = cap
        self.monitor = monitor
        self.lock = threading.Lock()
        self.sent = 0
        self.statuses = collections.Counter()
        self.bodies = {}  # status -> first body (excerpt)
        self.cut = False
        self.notes = []
        self.extra = {}

    def expired(self, until=None):
        """Past the cap, past `until`, or the server is gone: time to stop sending."""
        if self.monitor.capped or self.monitor.died_at is not None:
            return True
        now = time.monotonic()
        return now >= self.deadline or (until is not None and now >= until)

    def record(self, status, body):
        with self.lock:
            self.sent += 1
            self.statuses[str(status)] += 1
            if status == "timeout":
                self.cut = True
            key = str(status)
            if key not in self.bodies:
                self.bodies[key] = body[:300].decode("utf-8", "replace")

    def get(self, conn, target, headers):
        status, body, resp_headers = conn.get(target, headers, self.deadline)
        self.record(status, body)
        return status, body, resp_headers

    def parallel(self, n, fn):
        """Run fn(i) in n threads; wait at most until the deadline (+2 s)."""
        threads = [threading.Thread(target=fn, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(remaining(self.deadline + 2))
        if any(t.is_alive() for t in threads):
            self.cut = True

    def note(self, text):
        self.notes.append(text)


def attack_regex_memory(r):
    filters = [{"name": "path", "operator": "regex", "value": ["(a{1,255}){1,255}"] * 400}]
    # Strict percent-encoding, as the review's 18 KB URL.
    target = "/export/events?" + qs([("filters", filters)], strict=True)
    r.note(f"URL {len(target)} bytes")
    conn = Conn(r.port)
    for _ in range(5):
        if r.expired():
            break
        r.get(conn, target, auth(r.a))
    conn.close()


def attack_chart_memory(r):
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=9990)
    target = chart_target([{"name": "*"}] * 20, breakdowns=[{"name": "session_id"}],
                          interval="minute", startDate=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          previous="true", limit="1", offset="100000")
    r.note(f"URL {len(target)} bytes; sent up to 3 times in a row")
    conn = Conn(r.port)
    for _ in range(3):
        if r.expired():
            break
        r.get(conn, target, auth(r.a))
    conn.close()


def regex_cpu_target():
    pattern = "([ab]{1,255}){1,255}"

    def target(n):
        return "/export/events?" + qs([("filters", [{"name": "path", "operator": "regex",
                                                     "value": [pattern] * n}])])
    n = (URL_BUDGET - len(target(0))) // (len(target(1)) - len(target(0)) + 3)
    while len(target(n + 1)) <= URL_BUDGET:
        n += 1
    while len(target(n)) > URL_BUDGET:
        n -= 1
    return n, target(n)


def attack_regex_cpu(r):
    n, target = regex_cpu_target()
    r.note(f"{n} regex values, URL {len(target)} bytes, 2 concurrent requests")

    def one(_):
        conn = Conn(r.port)
        r.get(conn, target, auth(r.a))
        conn.close()
    r.parallel(2, one)


def attack_timeout_hold(r):
    until = r.start + 20
    r.note("QUARRY_QUERY_TIMEOUT=5; 8 threads from client A for 20 s, 990 `contains` values each")

    def worker(i):
        conn = Conn(r.port)
        k = 0
        while not r.expired(until):
            target = chart_target(contains_event(990, f"/{i}{k:x}-"), range="30d")
            r.get(conn, target, auth(r.a))
            k += 1
        conn.close()
    r.parallel(8, worker)


def attack_deep_expression(r):
    target = chart_target(contains_event(1000, "/x-"), range="30d")
    r.note(f"URL {len(target)} bytes")
    conn = Conn(r.port)
    r.get(conn, target, auth(r.a))
    conn.close()


def attack_scrypt_flood(r):
    until = r.start + 15
    r.note("64 threads, distinct wrong secrets for client A's id, 15 s")

    def worker(_):
        conn = Conn(r.port)
        while not r.expired(until):
            headers = {"openpanel-client-id": r.a["id"],
                       "openpanel-client-secret": "sec_" + uuid.uuid4().hex[:20]}
            r.get(conn, "/export/events?limit=1", headers)
        conn.close()
    r.parallel(64, worker)


def attack_rate_limit_theft(r):
    conn = Conn(r.port)
    for _ in range(5):
        if r.expired():
            return
        headers = {"openpanel-client-id": r.b["id"],
                   "openpanel-client-secret": "sec_" + uuid.uuid4().hex[:20]}
        r.get(conn, "/export/events?limit=1", headers)
    status, body, headers = r.get(conn, "/export/events?limit=1", auth(r.b))
    r.extra["victim_status_after_theft"] = status
    r.extra["victim_retry_after"] = (headers or {}).get("retry-after")
    r.note(f"victim B's valid request after 5 wrong secrets with B's id: {status}"
           + (f" (Retry-After {headers.get('retry-after')})"
              if headers and headers.get("retry-after") else ""))
    conn.close()

    before = read_status(r.monitor.proc.pid)
    t0 = time.monotonic()
    total, threads, size = 5000, 8, 120 * 1024
    counter = iter(range(total))
    counter_lock = threading.Lock()

    def worker(_):
        c = Conn(r.port)
        while not r.expired():
            with counter_lock:
                i = next(counter, None)
            if i is None:
                break
            tag = f"{i:06d}-{uuid.uuid4().hex}-"
            headers = {"openpanel-client-id": tag + "a" * (size - len(tag)),
                       "openpanel-client-secret": "sec_00000000000000000000"}
            r.get(c, "/export/events?limit=1", headers)
        c.close()
    r.parallel(threads, worker)
    after = read_status(r.monitor.proc.pid)
    if before and after:
        growth = (after[0] - before[0]) / 1024
        r.extra["header_flood_rss_before_mib"] = round(before[0] / 1024, 1)
        r.extra["header_flood_rss_after_mib"] = round(after[0] / 1024, 1)
        r.note(f"{total} distinct 120 KB client ids ({threads} threads, "
               f"{time.monotonic() - t0:.1f} s): VmRSS {before[0] / 1024:.0f} → "
               f"{after[0] / 1024:.0f} MiB (+{growth:.0f} MiB)")


def attack_http_limits(r):
    a = r.a
    cred = (f"openpanel-client-id: {a['id']}\r\n"
            f"openpanel-client-secret: {a['secret']}\r\n").encode()

    def head(target, extra=b""):
        return (b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + cred + extra
                + b"Connection: close\r\n\r\n")
    cases = [
        ("url_64k", head(b"/export/events?limit=1&pad=" + b"a" * 65536)),
        ("ctl_x01", head(b"/export/events?limit=1&x=a\x01b")),
        ("ctl_x7f", head(b"/export/events?limit=1&x=a\x7fb")),
        ("head_136k", head(b"/export/events?limit=1",
                           b"".join(b"x-pad-%02d: " % i + b"p" * 1500 + b"\r\n"
                                    for i in range(90)))),
        ("headers_100", head(b"/export/events?limit=1",
                             b"".join(b"x-h-%03d: v\r\n" % i for i in range(100)))),
    ]
    results = {}
    for name, data in cases:
        if r.expired():
            break
        try:
            status, headers, body, error = raw_exchange(r.port, data,
                                                        timeout=min(10, remaining(r.deadline)))
        except Exception as e:  # noqa: BLE001
            status, headers, body, error = "", {}, b"", f"connect: {classify(e)}"
        code = status.split(" ")[1] if status.count(" ") >= 1 else (error or "no answer")
        try:
            json.loads(body)
            is_json = True
        except ValueError:
            is_json = False
        r.record(code, body)
        results[name] = {"request_bytes": len(data), "status_line": status, "json": is_json,
                         "content_type": headers.get("content-type"), "error": error,
                         "body": body[:200].decode("utf-8", "replace")}
        r.note(f"{name} ({len(data)} B): {status or 'no status line'!r}, "
               f"body {'JSON' if is_json else 'not JSON'}"
               + (f" {body[:80].decode('utf-8', 'replace')!r}" if body else " (empty)")
               + (f"; {error}" if error else ""))
    r.extra["cases"] = results


def attack_flood_valid(r):
    until = r.start + 10
    r.note("8 threads of the ordinary chart from client A for 10 s")

    def worker(_):
        conn = Conn(r.port)
        while not r.expired(until):
            r.get(conn, ORDINARY, auth(r.a))
        conn.close()
    r.parallel(8, worker)


# name -> (function, extra env, warm-up clients, probe client)
ATTACKS = {
    "regex_memory": (attack_regex_memory, {}, "ab", "b"),
    "chart_memory": (attack_chart_memory, {}, "ab", "b"),
    "regex_cpu": (attack_regex_cpu, {}, "ab", "b"),
    "timeout_hold": (attack_timeout_hold, {"QUARRY_QUERY_TIMEOUT": "5"}, "ab", "b"),
    "deep_expression": (attack_deep_expression, {}, "ab", "b"),
    "scrypt_flood": (attack_scrypt_flood, {}, "ab", "b"),
    # B must start with a full budget; the ordinary probe runs as client C.
    "rate_limit_theft": (attack_rate_limit_theft, {"QUARRY_RATE_LIMIT": "5/10s"}, "c", "c"),
    "http_limits": (attack_http_limits, {}, "ab", "b"),
    "flood_valid": (attack_flood_valid, {}, "ab", "b"),
}


# ---------------------------------------------------------------------------------------
# Server lifecycle

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary, env, log_path):
    port = free_port()
    log = open(log_path, "ab")
    proc = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    end = time.monotonic() + 20
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} at start; see {log_path}")
        status, _, _ = one_get(port, "/healthz", {}, time.monotonic() + 1)
        if status == 200:
            return proc, port
        time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError("server did not answer /healthz within 20 s")


def stop_server(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def log_errors(log, keep=3):
    """The first few distinct ERROR/panic lines of the server log, timestamps dropped."""
    seen = []
    for line in ANSI.sub("", log).splitlines():
        if "ERROR" in line or "panic" in line or "memory allocation" in line:
            text = re.sub(r"^\S*\d{4}-\d\d-\d\dT\S+\s+", "", line).strip()[:240]
            if text not in seen:
                seen.append(text)
    return seen[:keep]


def milestones(samples):
    """Seconds into the attack when VmRSS first passed 256 MiB, 512 MiB, 1 GiB, …."""
    out, level = {}, 256
    for t, kib in samples:
        while kib >= level * 1024:
            out[f"{level} MiB"] = t
            level *= 2
    return out


def describe_exit(code):
    if code is None:
        return "running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with {code}"


def run_attack(name, args, base_env, clients, tmp):
    fn, extra_env, warm, probe_client = ATTACKS[name]
    env = dict(base_env, **extra_env)
    log_path = os.path.join(tmp, f"{name}.log")
    proc, port = start_server(args.bin, env, log_path)
    by_letter = dict(zip("abc", clients))
    try:
        for letter in warm:  # one valid request each: the secret is then cached
            one_get(port, "/export/events?limit=1", auth(by_letter[letter]), time.monotonic() + 30)
        idle = read_status(proc.pid)
        cpu0 = read_cpu(proc.pid) or 0.0
        t0 = time.monotonic()
        monitor = Monitor(proc, args.rss_cap_mib * 1024, t0)
        monitor.sample()
        monitor.start()
        r = Run(name, port, clients, args.cap, monitor)
        hard = r.deadline + 2
        probes = [Probe(port, "/healthz", {}, hard),
                  Probe(port, ORDINARY, auth(by_letter[probe_client]), hard)]
        for p in probes:
            p.start()
        worker = threading.Thread(target=fn, args=(r,), daemon=True)
        worker.start()
        worker.join(remaining(hard + 3))
        if worker.is_alive():
            r.cut = True
        wall = time.monotonic() - r.start
        # A short attack still gets a few probes: up to 3 s more, until each has answered twice.
        settle = min(hard, time.monotonic() + 3)
        while (time.monotonic() < settle and proc.poll() is None and not monitor.capped
               and any(len(p.latencies) < 2 for p in probes)):
            time.sleep(0.05)
        for p in probes:
            p.finish()
        monitor.stop.set()
        monitor.join(2)
        monitor.sample()
        final = read_status(proc.pid)
        cpu = read_cpu(proc.pid)
        if cpu is None:
            cpu = monitor.cpu if monitor.cpu is not None else cpu0
        peak_kib = max(monitor.hwm, final[1] if final else 0)
        alive = proc.poll() is None and not monitor.capped
        healthz_after = None
        if alive:
            status, _, _ = one_get(port, "/healthz", {}, time.monotonic() + 5)
            healthz_after = status
        code = proc.poll()
        if monitor.capped:
            survived = f"no: killed by abuse.py at the {args.rss_cap_mib} MiB RSS cap"
        elif alive:
            survived = "yes" if healthz_after == 200 else f"alive, /healthz after: {healthz_after}"
        else:
            survived = f"no: {describe_exit(code)}"
            if monitor.died_at is not None:
                survived += f" after {monitor.died_at:.1f} s"
    finally:
        stop_server(proc)
    with open(log_path, "rb") as f:
        log = f.read().decode("utf-8", "replace")
    rss_end = monitor.samples[-1][1] if monitor.samples else 0
    if final:
        rss_end = final[0]
    return {
        "attack": name,
        "requests": r.sent,
        "statuses": dict(r.statuses),
        "idle_rss_mib": round(idle[0] / 1024, 1) if idle else None,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "end_rss_mib": round(rss_end / 1024, 1) if alive else None,
        "cpu_s": round(cpu - cpu0, 2),
        "wall_s": round(wall, 1),
        "cut": r.cut,
        "cap_s": args.cap,
        "survived": survived,
        "alive": alive and not monitor.capped,
        "capped": monitor.capped,
        "exit": describe_exit(code),
        "healthz": probes[0].report(),
        "ordinary": probes[1].report(),
        "probe_client": probe_client.upper(),
        "notes": r.notes,
        "extra": r.extra,
        "bodies": r.bodies,
        "server_errors": log_errors(log),
        "rss_milestones_s": milestones(monitor.samples),
        "rss_samples_mib": [(t, round(kib / 1024, 1)) for t, kib in monitor.samples],
    }


# ---------------------------------------------------------------------------------------
# Output

def status_cell(statuses):
    def order(item):
        k = item[0]
        return (0, int(k)) if k.isdigit() else (1, k)
    return ", ".join(f"{v}×{k}" for k, v in sorted(statuses.items(), key=order)) or "–"


def table(results):
    rows = ["| attack | requests | statuses (count×status) | peak RSS MiB | RSS after MiB "
            "| CPU s | wall s | max /healthz | max ordinary (victim) | survived |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---|"]
    for x in results:
        if "error" in x:
            rows.append(f"| {x['attack']} | – | – | – | – | – | – | – | – | error: {x['error']} |")
            continue
        wall = f"cut at {x['cap_s']} s" if x["cut"] else f"{x['wall_s']:.1f}"
        end = "–" if x["end_rss_mib"] is None else f"{x['end_rss_mib']:.0f}"
        rows.append(
            f"| {x['attack']} | {x['requests']} | {status_cell(x['statuses'])} "
            f"| {'≥' if x['capped'] else ''}{x['peak_rss_mib']:.0f} | {end} | {x['cpu_s']:.1f} | {wall} "
            f"| {cell_probe(x['healthz'])} | {cell_probe(x['ordinary'])} | {x['survived']} |")
    return "\n".join(rows)


def notes(results):
    out = []
    for x in results:
        if "error" in x:
            continue
        lines = list(x["notes"])
        if x["probe_client"] != "B":
            lines.append(f"ordinary probe ran as client {x['probe_client']}")
        for status, body in sorted(x["bodies"].items()):
            if status != "200" and body:
                lines.append(f"first {status} body: {body[:160]!r}")
        if x["rss_milestones_s"]:
            lines.append("VmRSS passed " + ", ".join(
                f"{k} at {v:.1f} s" for k, v in x["rss_milestones_s"].items()))
        for line in x["server_errors"]:
            lines.append(f"server log: {line!r}")
        out.append(f"- **{x['attack']}** (idle RSS {x['idle_rss_mib']} MiB): " + "; ".join(lines))
    return "\n".join(out)


# ---------------------------------------------------------------------------------------

def cli(binary, env, *argv):
    out = subprocess.run([binary, *argv], env=env, check=True, capture_output=True,
                         text=True, timeout=600)
    return out.stdout


def main():
    global ORDINARY
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="the quarry binary (default: build it, as load.sh)")
    ap.add_argument("--only", help="comma-separated attack names: " + ",".join(ATTACKS))
    ap.add_argument("--events", type=int, default=50_000, help="seeded events (default 50000)")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--cap", type=int, default=60, help="wall-clock cap per attack, s (60)")
    ap.add_argument("--rss-cap-mib", type=int, default=8192,
                    help="kill the server past this RSS, to protect the machine (8192)")
    args = ap.parse_args()

    names = list(ATTACKS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in ATTACKS]
        if unknown:
            ap.error(f"unknown attack(s) {', '.join(unknown)}; known: {', '.join(ATTACKS)}")
    if not args.bin:
        subprocess.run(["cargo", "build", "--release", "-p", "quarry-server"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        args.bin = os.path.join(target, "release", "quarry")
    args.bin = os.path.abspath(args.bin)

    ORDINARY = chart_target([{"name": "screen_view"}], range="30d", interval="day")
    tmp = tempfile.mkdtemp(prefix="quarry-abuse-")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUARRY_")}
        env.update(QUARRY_DATABASE_URL=f"sqlite://{tmp}/abuse.db", RUST_LOG="error",
                   QUARRY_RATE_LIMIT="off")
        cli(args.bin, env, "projects", "create", PROJECT, "--organization", "abuse-org")
        clients = [json.loads(cli(args.bin, env, "clients", "create", "--type", "read",
                                  "--project", PROJECT)) for _ in range(3)]
        t = time.monotonic()
        cli(args.bin, env, "seed", "--project", PROJECT, "--events", str(args.events),
            "--days", "30", "--seed", "7")
        print(f"seeded {args.events} events in {time.monotonic() - t:.1f} s; "
              f"binary {args.bin}", file=sys.stderr)

        results = []
        for name in names:
            print(f"[{time.strftime('%H:%M:%S')}] {name} …", file=sys.stderr, flush=True)
            try:
                res = run_attack(name, args, env, clients, tmp)
            except Exception as e:  # noqa: BLE001 - report and go on with the next attack
                res = {"attack": name, "error": f"{type(e).__name__}: {e}"}
            results.append(res)
            if "error" in res:
                print(f"    error: {res['error']}", file=sys.stderr)
            else:
                print(f"    {res['requests']} requests, {status_cell(res['statuses'])}, "
                      f"peak {res['peak_rss_mib']:.0f} MiB, {res['cpu_s']:.1f} CPU s, "
                      f"{res['survived']}", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"Quarry abuse test: {args.events} seeded events, SQLite, {os.cpu_count()} cores, "
          f"cap {args.cap} s per attack, {time.strftime('%Y-%m-%d %H:%M %Z')}\n")
    print(table(results))
    print("\nStatuses are count×status (timeout = no answer before the cap; closed = the "
          "server closed the connection without answering). Probes every ~200 ms on fresh "
          "connections; `≥N ms (no answer)` = a probe still waiting when the attack ended.\n")
    print(notes(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"binary": args.bin, "events": args.events, "cap_s": args.cap,
                       "rss_cap_mib": args.rss_cap_mib, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
