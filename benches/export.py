#!/usr/bin/env python3
"""Bulk export through `quarry serve`, on SQLite, PostgreSQL and ClickHouse (+ PostgreSQL
catalog), one project of N events (benches/backends_gen.py, 45 days):

 1. cursor depth: a 50-row keyset page at the start of the walk and 100 000 rows deep
    (the token taken by walking there), in alternating rounds, median time of each;
 2. a streamed NDJSON export of every row to /dev/null, against the engine's own export of
    the same rows in the same order (ClickHouse `FORMAT JSONEachRow` over HTTP, PostgreSQL
    `COPY (SELECT ...) TO STDOUT`, the `sqlite3` shell's `-json`), ROUNDS alternating
    rounds after an untimed one of each; and the server's resident memory sampled every
    20 ms during the streams (VmRSS: the fresh server's, and the peak over all streams);
 3. `quarry export` of every row to NDJSON, CSV and Parquet files (time, size);
 4. on ClickHouse, §5's offset page of a 31-day `screen_view` export at page 1 and 2000
    as SQL alone (engine `elapsed`): Quarry's SQL now (the page in key order, and the
    exact statement it also runs when a time is shared across the page's border),
    Quarry's SQL before (one sort by
    `created_at DESC, toString(id)`), OpenPanel's SQL (`SELECT *`, `ORDER BY created_at
    DESC`), and a hand-written query (the default columns, ordered by the sort key's day
    then the time: no tie-break, so not a total order).

PostgreSQL and ClickHouse (the chdb test server) are started by scripts/ and stopped on
exit. Markdown tables go to stdout; docs/performance.md records a run.

Usage: benches/export.py [EVENTS, default 1000000] [ROUNDS, default 5]
Standard library only; needs curl, sqlite3 and /proc.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPTH = 100_000
# The default Event columns; aliases that are not column names (ClickHouse would read an
# alias named like a column in WHERE instead of the column).
COLUMNS = ("toString(id) AS id_text, name, device_id, profile_id, project_id, "
           "toUnixTimestamp64Milli(created_at) AS created_at_ms, country, city, os, browser, "
           "duration, path")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*args, env=None, **kw):
    return subprocess.run(args, check=True, env=env, **kw)


def start(script, env):
    out = subprocess.run([os.path.join(ROOT, "scripts", script)], check=True,
                         capture_output=True, text=True, env=env).stdout
    return dict(re.findall(r"^export (\w+)='?([^'\n]*)'?$", out, re.M))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, quarry, env, work, name):
        self.port = free_port()
        self.log = open(os.path.join(work, f"serve.{name}.log"), "w")
        self.proc = subprocess.Popen([quarry, "serve", "--bind", f"127.0.0.1:{self.port}"],
                                     env=env, stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"quarry serve ({name}) did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def timed_get(url, headers, out="/dev/null"):
    args = ["curl", "-sS", "-o", out, "-w", "%{http_code} %{time_total} %{size_download}"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    res = subprocess.run(args + [url], check=True, capture_output=True, text=True).stdout.split()
    if res[0] != "200":
        raise SystemExit(f"{url}: HTTP {res[0]}")
    return float(res[1]) * 1000.0, int(res[2])


def two_builds(rounds=9):
    """The command line of a two-builds comparison: release binaries QUARRY_A and QUARRY_B,
    `--events` (1 000 000) and `--rounds`; the caller may add its own options."""
    ap = argparse.ArgumentParser()
    ap.add_argument("quarry_a")
    ap.add_argument("quarry_b")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=rounds)
    return ap


def interleaved(ports, headers, reqs, rounds, work, warm=2):
    """Ask every request `(title, path)` of every server (`ports` and `headers` by name)
    once per round, the servers in a rotating order; the wall times (ms) of the rounds
    after `warm`, by `(name, title)`. Every answer must be the same on all servers."""
    names = list(ports)
    body_file = os.path.join(work, "body.json")
    times = {(n, t): [] for n in names for t, _ in reqs}
    for r in range(warm + rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for title, path in reqs:
            bodies = {}
            for n in order:
                ms, _ = timed_get(f"http://127.0.0.1:{ports[n]}{path}", headers[n],
                                  out=body_file)
                with open(body_file) as f:
                    bodies[n] = f.read()
                if r >= warm:
                    times[(n, title)].append(ms)
            if len(set(bodies.values())) != 1:
                raise SystemExit(f"{title}: the answers differ")
    return times


def rotating(cases, rounds, ask, warm=2):
    """Ask every case (a tuple whose first item is its key) once per round, in an order
    that rotates each round, after `warm` untimed rounds; `ask(case)` returns `(answer,
    ms)`. Each key's median ms and its last answer."""
    times = {case[0]: [] for case in cases}
    answers = {}
    for r in range(warm + rounds):
        shift = r % len(cases)
        for case in cases[shift:] + cases[:shift]:
            answer, ms = ask(case)
            answers[case[0]] = answer
            if r >= warm:
                times[case[0]].append(ms)
    return {k: statistics.median(v) for k, v in times.items()}, answers


def clickhouse_with_events(quarry, n, env, work, started):
    """N generated events of project `bench` imported by `quarry` into a ClickHouse test
    server started for the run (catalog in PostgreSQL); its URL and the time the data
    ends at (RFC 3339)."""
    data = os.path.join(work, "events.ndjson")
    now_ms = generate(n, data)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_ms // 1000))
    stores = start_stores(env, work, started)
    load_store(quarry, {**env, **stores["ch"], "RUST_LOG": "error"}, data)
    log("ClickHouse: imported")
    return env["CLICKHOUSE_URL"], now


def get_json(url, headers):
    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def cursor_depth(base, headers, rounds):
    """Median ms of the first 50-row keyset page and of one DEPTH rows deep."""
    token, seen = "", 0
    while seen < DEPTH:
        body = get_json(f"{base}/export/events?projectId=bench&limit=10000&cursor={token}", headers)
        seen += body["meta"]["count"]
        token = urllib.parse.quote(body["meta"]["next"] or "", safe="")
        if not token:
            raise SystemExit("fewer rows than the depth")
    first, deep = [], []
    for _ in range(2):
        timed_get(f"{base}/export/events?projectId=bench&limit=50&cursor=", headers)
        timed_get(f"{base}/export/events?projectId=bench&limit=50&cursor={token}", headers)
    for _ in range(rounds):
        first.append(timed_get(f"{base}/export/events?projectId=bench&limit=50&cursor=", headers)[0])
        deep.append(timed_get(f"{base}/export/events?projectId=bench&limit=50&cursor={token}", headers)[0])
    return statistics.median(first), statistics.median(deep)


def sample_rss(pid, stop, peaks):
    while not stop.is_set():
        peaks.append(rss_kb(pid))
        time.sleep(0.02)


def stream(base, headers, pid):
    before = rss_kb(pid)
    peaks, stop = [], threading.Event()
    t = threading.Thread(target=sample_rss, args=(pid, stop, peaks))
    t.start()
    ms, size = timed_get(f"{base}/export/events?projectId=bench&format=ndjson", headers)
    stop.set()
    t.join()
    return ms, size, before, max(peaks)


def native(kind, env, work):
    """The engine's own export of the same rows, same order; (ms, bytes)."""
    t0 = time.perf_counter()
    if kind == "ch":
        sql = (f"SELECT {COLUMNS} FROM events WHERE project_id = 'bench' "
               "ORDER BY created_at DESC, id_text FORMAT JSONEachRow")
        url = f"{env['CLICKHOUSE_URL']}/?database=openpanel"
        out = subprocess.run(["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}",
                              url, "--data-binary", sql], check=True, capture_output=True, text=True)
        size = int(out.stdout)
    elif kind == "pg":
        sql = ("COPY (SELECT id, name, device_id, profile_id, project_id, created_at, country, "
               "city, os, browser, duration, path FROM events WHERE project_id = 'bench' "
               "ORDER BY created_at DESC, id) TO STDOUT")
        db = env["DATABASE_URL"].rsplit("/", 1)[0] + "/bench"
        out = subprocess.run(["psql", "-X", "-q", db, "-c", sql], check=True, capture_output=True)
        size = len(out.stdout)
    else:
        sql = ("SELECT id, name, device_id, profile_id, project_id, created_at, country, city, "
               "os, browser, duration, path FROM events WHERE project_id = 'bench' "
               "ORDER BY created_at DESC, id")
        out = subprocess.run(["sqlite3", "-json", os.path.join(work, "main.db"), sql],
                             check=True, capture_output=True)
        size = len(out.stdout)
    return (time.perf_counter() - t0) * 1000.0, size


def ch_sql(url, sql, params):
    query = urllib.parse.urlencode({"database": "openpanel", **params})
    req = urllib.request.Request(f"{url}/?{query}", data=(sql + "\nFORMAT JSONCompact").encode())
    with urllib.request.urlopen(req) as resp:
        body = json.loads(resp.read())
    return len(body["data"]), float(body["statistics"]["elapsed"]) * 1000.0


def compile_page(quarry, qs):
    """The statements `quarry compile` prints for an events request (SQL and ClickHouse
    parameters each), the count's last."""
    out = subprocess.run([quarry, "compile", "--dialect", "clickhouse", "--endpoint", "events",
                          "--project", "bench", qs], check=True, capture_output=True, text=True).stdout
    statements = []
    for text in out.strip().split("\n\n"):
        sql, _, tail = text.partition("-- params")
        params = {}
        for m in re.finditer(r"^-- (\d+): (\w+)\((.*)\)$", tail, re.M):
            n, kind, raw = m.groups()
            value = json.loads(raw) if kind == "Text" else raw.rsplit("= ", 1)[-1]
            params[f"param_p{n}"] = value
        statements.append((sql.strip(), params))
    return statements


def offset_pages(quarry, url, now_ms, rounds):
    end = now_ms
    start = end - 31 * 86_400_000
    iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ms / 1000))
    where = (f"project_id = 'bench' AND created_at >= fromUnixTimestamp64Milli({start}) AND "
             f"created_at <= fromUnixTimestamp64Milli({end}) AND name = 'screen_view'")
    rows = []
    for page in (1, 2000):
        qs = f"event=screen_view&start={iso(start)}&end={iso(end)}&limit=50&page={page}"
        (sql, params), (exact, exact_params), _count = compile_page(quarry, qs)
        assert "position_ms" in sql, "Quarry's page no longer reads in the table's order"
        assert "first_rows" in exact, "Quarry's exact page no longer finds its boundary first"
        offset = (page - 1) * 50
        variants = {
            "Quarry": (sql, params),
            "Quarry exact (also run when a millisecond outlasts the margin)": (
                exact, exact_params),
            "Quarry before (ORDER BY created_at DESC, toString(id))": (
                f"SELECT {COLUMNS} FROM events WHERE {where} "
                f"ORDER BY created_at DESC, toString(id) LIMIT 50 OFFSET {offset}", {}),
            "OpenPanel (SELECT *, created_at DESC)": (
                f"SELECT * FROM events WHERE {where} ORDER BY created_at DESC "
                f"LIMIT 50 OFFSET {offset}", {}),
            "hand-written (sort key order)": (
                f"SELECT {COLUMNS} FROM events WHERE {where} "
                f"ORDER BY toDate(created_at) DESC, created_at DESC LIMIT 50 OFFSET {offset}", {}),
        }
        times = {k: [] for k in variants}
        counts = {}
        for _ in range(2):
            for k, (s, p) in variants.items():
                ch_sql(url, s, p)
        for _ in range(rounds):
            for k, (s, p) in variants.items():
                n, ms = ch_sql(url, s, p)
                counts[k] = n
                times[k].append(ms)
        hand = statistics.median(times["hand-written (sort key order)"])
        for k in variants:
            m = statistics.median(times[k])
            rows.append(f"| {page} | {k} | {m:.1f} | {m / hand:.2f}× | {counts[k]} |")
    return rows


def head_commit():
    """The checked-out commit, short."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()


def build_quarry():
    """Build the release binary; its path and the commit it was built from (marked when
    the sources under crates/ differ from it)."""
    log("building quarry (release)")
    sh("cargo", "build", "--release", "-q", "-p", "quarry-server", cwd=ROOT)
    quarry = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                          "release", "quarry")
    rev = head_commit()
    if subprocess.run(["git", "status", "--porcelain", "--", "crates", "Cargo.toml"], cwd=ROOT,
                      capture_output=True, text=True).stdout.strip():
        rev += " + uncommitted changes"
    return quarry, rev


def clean_env():
    """This process's environment without Quarry's settings or the databases' URLs (the
    benches start their own servers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUARRY_")}
    env.pop("DATABASE_URL", None)
    env.pop("CLICKHOUSE_URL", None)
    return env


def generate(n, path):
    """N events of project `bench` over the 45 days before now (benches/backends_gen.py);
    returns the `now` they end at, in ms."""
    now_ms = int(time.time()) * 1000
    sh("python3", os.path.join(ROOT, "benches", "backends_gen.py"), "--events", str(n),
       "--now-ms", str(now_ms), "--days", "45", "--seed", "42", "--project", "bench",
       "--out", path)
    log(f"generated {n} events ({os.path.getsize(path) / 1e6:.0f} MB)")
    return now_ms


def start_stores(env, work, started):
    """Start PostgreSQL and the ClickHouse test server (noted in `started`, their settings
    added to `env`); the Quarry settings of each backend: `sqlite`, `pg`, and `ch` (events
    in ClickHouse database `openpanel`, catalog in PostgreSQL)."""
    started["pg"] = start("start-postgres.sh", env)
    started["ch"] = start("start-clickhouse.sh", env)
    env.update(started["pg"])
    env.update(started["ch"])
    pg_base = env["DATABASE_URL"].rsplit("/", 1)[0]
    sh("psql", "-X", "-q", env["DATABASE_URL"], "-c", "CREATE DATABASE catalog",
       "-c", "CREATE DATABASE bench")
    return {
        "sqlite": {"QUARRY_DATABASE_URL": f"sqlite://{work}/main.db"},
        "pg": {"QUARRY_DATABASE_URL": f"{pg_base}/bench"},
        "ch": {"QUARRY_DATABASE_URL": f"{pg_base}/catalog",
               "QUARRY_CLICKHOUSE_URL": env["CLICKHOUSE_URL"],
               "QUARRY_CLICKHOUSE_DATABASE": "openpanel"},
    }


def stop_all(servers, started, env, work):
    """Stop the servers, the databases of `start_stores`, and remove `work`."""
    for s in servers:
        s.stop()
    if "ch" in started:
        subprocess.run([os.path.join(ROOT, "scripts", "stop-clickhouse.sh"),
                        started["ch"].get("CLICKHOUSE_PID", "")], env=env)
    if "pg" in started:
        subprocess.run([os.path.join(ROOT, "scripts", "stop-postgres.sh")], env=env)
    shutil.rmtree(work, ignore_errors=True)


def load_store(quarry, benv, data):
    """Migrate the store of `benv`, import `data` as project `bench`, and create a read
    client for it; its headers."""
    sh(quarry, "migrate", env=benv, stdout=subprocess.DEVNULL)
    sh(quarry, "import", data, "--project", "bench", env=benv,
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sh(quarry, "projects", "create", "bench", "--organization", "o", env=benv,
       stdout=subprocess.DEVNULL)
    creds = json.loads(sh(quarry, "clients", "create", "--type", "read", "--project",
                          "bench", env=benv, capture_output=True, text=True).stdout)
    return {"openpanel-client-id": creds["id"], "openpanel-client-secret": creds["secret"]}


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    quarry, rev = build_quarry()
    work = tempfile.mkdtemp(prefix="quarry-export-bench.")
    env = clean_env()
    servers, started = [], {}
    try:
        data = os.path.join(work, "events.ndjson")
        now_ms = generate(n, data)
        shapes = start_stores(env, work, started)
        results = {}
        for b, extra in shapes.items():
            benv = {**env, **extra, "RUST_LOG": "error", "QUARRY_RATE_LIMIT": "off",
                    "QUARRY_MAX_PAGE_SIZE": "10000"}
            headers = load_store(quarry, benv, data)
            log(f"{b}: imported")
            srv = Server(quarry, benv, work, b)
            servers.append(srv)
            base = f"http://127.0.0.1:{srv.port}"
            # Streams first, on a fresh server: its memory before and during them.
            streams, natives = [], []
            # One untimed round first: the engine's first export of these rows warms it.
            native(b, env, work)
            streams.append(stream(base, headers, srv.proc.pid))
            for _ in range(rounds):
                streams.append(stream(base, headers, srv.proc.pid))
                natives.append(native(b, env, work))
            # The warm-up stream counts for memory only.
            streams_timed = streams[1:]
            first, deep = cursor_depth(base, headers, rounds)
            cli = {}
            for fmt in ("ndjson", "csv", "parquet"):
                out = os.path.join(work, f"export.{b}.{fmt}")
                t0 = time.perf_counter()
                sh(quarry, "export", "--project", "bench", "--format", fmt, "--output", out,
                   env=benv, stderr=subprocess.DEVNULL)
                cli[fmt] = ((time.perf_counter() - t0) * 1000.0, os.path.getsize(out))
                os.remove(out)
            results[b] = (first, deep, streams_timed, natives, cli, streams)
            log(f"{b}: cursor {first:.1f}/{deep:.1f} ms, stream {statistics.median(s[0] for s in streams):.0f} ms")
            if b == "ch":
                ch_rows = offset_pages(quarry, env["CLICKHOUSE_URL"], now_ms, rounds)
            srv.stop()
            servers.remove(srv)

        print(f"\n{n} events, commit {rev}, {rounds} rounds; reproduce: benches/export.py {n} {rounds}\n")
        print("| backend | keyset page 1, ms | 100 000 rows deep, ms | deep ÷ first |")
        print("|---|---:|---:|---:|")
        for b, (first, deep, *_rest) in results.items():
            print(f"| {b} | {first:.1f} | {deep:.1f} | {deep / first:.2f}× |")
        print("\n| backend | NDJSON stream through Quarry, ms | MB | engine's own export, ms | MB "
              "| Quarry ÷ engine | server RSS fresh → peak over all streams, MiB |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for b, (_f, _d, streams, natives, _c, every) in results.items():
            qs = statistics.median(s[0] for s in streams)
            ns = statistics.median(x[0] for x in natives)
            # Memory over every stream of a fresh server: the first one's start, the peak.
            before = every[0][2] / 1024
            peak = max(s[3] for s in every) / 1024
            print(f"| {b} | {qs:.0f} | {streams[0][1] / 1e6:.0f} | {ns:.0f} | {natives[0][1] / 1e6:.0f} "
                  f"| {qs / ns:.2f}× | {before:.0f} → {peak:.0f} |")
        print("\n| backend | `quarry export` NDJSON, s | MB | CSV, s | MB | Parquet, s | MB |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for b, (*_x, cli, _every) in results.items():
            print(f"| {b} | " + " | ".join(
                f"{cli[f][0] / 1000:.1f} | {cli[f][1] / 1e6:.0f}" for f in ("ndjson", "csv", "parquet")) + " |")
        print("\nClickHouse, 31-day `screen_view` export page (50 rows), engine `elapsed` medians:\n")
        print("| page | SQL | ms | ÷ hand-written | rows |")
        print("|---:|---|---:|---:|---:|")
        print("\n".join(ch_rows))
    finally:
        stop_all(servers, started, env, work)


if __name__ == "__main__":
    main()
