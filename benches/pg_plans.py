#!/usr/bin/env python3
"""PostgreSQL in steady state: charts and a funnel through `quarry serve` on one project
of N events (benches/backends_gen.py), on a server that has already answered many
requests, against the same server fresh and against naive hand-written SQL.

sqlx prepares each statement once per connection. After five executions PostgreSQL may
switch a prepared statement to a generic plan, which cannot know the time window; this
run shows what that costs and what Quarry's custom plans (`plan_cache_mode =
force_custom_plan` on the event pool) give back:

 - two servers on the same database, this build (`quarry`) and an older one (`--base`,
   optional), each answering WARM requests of every kind before the timed rounds;
 - the first requests of each server (fresh connections: custom plans either way);
 - ROUNDS interleaved timed rounds; every request kind once per round and server;
 - for the charts, naive SQL of the same meaning (`count(DISTINCT profile_id)` per day)
   run by psql with `\\timing` in the same rounds, and its numbers checked against
   Quarry's answer.

Latency is curl's time_total for Quarry (one connection, sequential) and psql's `Time:`
for the SQL. Medians. Markdown to stdout.

Usage: benches/pg_plans.py [--events N (1000000)] [--rounds R (15)] [--warm W (50)]
                           [--base OLD_QUARRY]
Standard library only; needs curl and psql.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import Server, build_quarry, clean_env, generate, log, sh, start  # noqa: E402
DE = '"filters":[{"name":"country","operator":"is","value":["DE"]}]'
REQUESTS = {
    "users per day": ("charts", '[{"name":"screen_view","segment":"user"}]', ""),
    "users per day, country = DE": (
        "charts", '[{"name":"screen_view","segment":"user",' + DE + '}]', "DE"),
    "funnel, country = DE": (
        "funnel", '[{"name":"screen_view",' + DE + '},{"name":"sign_up"},{"name":"purchase"}]',
        None),
}


def get(port, path, headers):
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code} %{time_total}"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = sh(*args, f"http://127.0.0.1:{port}{path}", capture_output=True, text=True).stdout
    body, _, tail = out.rpartition("\n")
    code, secs = tail.split()
    if code != "200":
        raise RuntimeError(f"{path}: HTTP {code}: {body[:300]}")
    return json.loads(body), float(secs) * 1000.0


def path_of(kind, events, now_iso):
    endpoint, _, _ = REQUESTS[kind]
    qs = {"projectId": "bench", "events": events, "range": "30d"}
    if endpoint == "charts":
        qs["interval"] = "day"
    return f"/export/{endpoint}?" + urllib.parse.urlencode(qs)


def naive_sql(country):
    where = " AND country = 'DE'" if country else ""
    return ("SELECT to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS d, "
            "count(DISTINCT NULLIF(profile_id, '')) FROM events WHERE project_id = 'bench' "
            "AND name = 'screen_view' AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC' "
            "- INTERVAL '30 days') AT TIME ZONE 'UTC' AND created_at <= now()" + where +
            " GROUP BY 1 ORDER BY 1")


def psql_timed(url, sql):
    out = sh("psql", "-X", "-q", "-A", "-t", url, "-c", "\\timing on", "-c", sql,
             capture_output=True, text=True).stdout
    ms = float(re.search(r"Time: ([0-9.]+) ms", out).group(1))
    rows = [line.split("|") for line in out.splitlines() if "|" in line]
    return {d: int(n) for d, n in rows}, ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--warm", type=int, default=50)
    ap.add_argument("--base")
    args = ap.parse_args()
    quarry, rev = build_quarry()
    work = tempfile.mkdtemp(prefix="quarry-pg-bench.")
    env = clean_env()
    servers = []
    started = None
    try:
        data = os.path.join(work, "events.ndjson")
        generate(args.events, data)
        started = start("start-postgres.sh", env)
        env.update(started)
        url = env["DATABASE_URL"].rsplit("/", 1)[0] + "/bench"
        sh("psql", "-X", "-q", env["DATABASE_URL"], "-c", "CREATE DATABASE bench")
        qenv = {**env, "QUARRY_DATABASE_URL": url, "RUST_LOG": "error", "QUARRY_RATE_LIMIT": "off"}
        sh(quarry, "migrate", env=qenv, stdout=subprocess.DEVNULL)
        sh(quarry, "import", data, "--project", "bench", env=qenv,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.remove(data)
        sh(quarry, "projects", "create", "bench", "--organization", "o", env=qenv,
           stdout=subprocess.DEVNULL)
        creds = json.loads(sh(quarry, "clients", "create", "--type", "read", "--project",
                              "bench", env=qenv, capture_output=True, text=True).stdout)
        headers = {"openpanel-client-id": creds["id"],
                   "openpanel-client-secret": creds["secret"]}
        log(f"imported {args.events} events")
        binaries = [("quarry", quarry)] + ([("base", args.base)] if args.base else [])
        ports = {}
        for name, binary in binaries:
            srv = Server(binary, qenv, work, name)
            servers.append(srv)
            ports[name] = srv.port
        paths = {k: path_of(k, events, None) for k, (_, events, _) in REQUESTS.items()}
        first = {(n, k): [] for n in ports for k in REQUESTS}
        for name, port in ports.items():
            for k, p in paths.items():
                first[(name, k)].append(get(port, p, headers)[1])
        log("warming up")
        for _ in range(args.warm):
            for name, port in ports.items():
                for p in paths.values():
                    get(port, p, headers)
        times = {(n, k): [] for n in list(ports) + ["naive"] for k in REQUESTS}
        checks = {}
        for r in range(args.rounds):
            for k, p in paths.items():
                order = list(ports.items()) if r % 2 == 0 else list(reversed(ports.items()))
                for name, port in order:
                    body, ms = get(port, p, headers)
                    times[(name, k)].append(ms)
                    if name == "quarry":
                        answer = body
                country = REQUESTS[k][2]
                if country is not None:
                    rows, ms = psql_timed(url, naive_sql(country))
                    times[("naive", k)].append(ms)
                    got = {d["date"][:10]: d["count"] for d in answer["series"][0]["data"]}
                    # Days without a user: absent from the SQL or counted 0; 0 in Quarry's.
                    got = {d: n for d, n in got.items() if n}
                    rows = {d: n for d, n in rows.items() if n}
                    checks[k] = got == rows
                    if got != rows:
                        diff = sorted(d for d in set(got) | set(rows) if got.get(d) != rows.get(d))
                        log(f"{k}: Quarry and the naive SQL differ on {diff[:5]}: "
                            f"{[(got.get(d), rows.get(d)) for d in diff[:5]]}")
        print(f"\n{args.events} events on PostgreSQL 15, commit {rev}; {args.warm} requests of "
              f"each kind per server before {args.rounds} timed rounds; medians, ms. "
              f"Reproduce: benches/pg_plans.py --events {args.events} --rounds {args.rounds}"
              + (" --base OLD_QUARRY" if args.base else "") + "\n")
        cols = list(ports)
        print("| request | " + " | ".join(f"{c}: first request | {c}: steady state" for c in cols)
              + " | naive SQL (psql) | quarry ÷ naive | same numbers |")
        print("|---|" + "---:|---:|" * len(cols) + "---:|---:|---|")
        for k in REQUESTS:
            cells = []
            for c in cols:
                cells += [f"{first[(c, k)][0]:.0f}", f"{statistics.median(times[(c, k)]):.0f}"]
            naive = times[("naive", k)]
            if naive:
                n = statistics.median(naive)
                q = statistics.median(times[("quarry", k)])
                tail = f"{n:.0f} | {q / n:.2f}× | {'yes' if checks.get(k) else 'NO'}"
            else:
                tail = "— | — | —"
            print(f"| {k} | " + " | ".join(cells) + f" | {tail} |")
    finally:
        for s in servers:
            s.stop()
        if started:
            subprocess.run([os.path.join(ROOT, "scripts", "stop-postgres.sh")], env=env)
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
