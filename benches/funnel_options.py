#!/usr/bin/env python3
"""The cost of each funnel option (docs/funnels.md) against the plain funnel, on every
backend, and on ClickHouse Quarry's statements against hand-written `windowFunnel` SQL of
the same meaning (benches/ch_funnel_hand.py pairs every statement of every option).

One project of N events (benches/backends_gen.py) is imported into SQLite, PostgreSQL and
ClickHouse (catalog in PostgreSQL); each store is served by `quarry serve` in turn and asked
the funnel screen_view → sign_up → purchase over `range=30d`, plain and with one option at
a time, then with all of them. Every request kind is asked once per round, the kinds in a
rotating order, after WARM untimed rounds; latency is curl's time_total (one connection,
sequential requests); medians.

ClickHouse, engine level: `quarry compile --dialect clickhouse` gives the statement of a
request whose options do not change its meaning (a step window equal to the funnel window,
which cannot fail and so keeps `windowFunnel`; alternatives), sent straight to
ClickHouse's HTTP interface in alternating rounds
with the hand-written `windowFunnel` query of benches/ch_sql.py; the engine's own
`elapsed`; both answers are compared.

Usage: benches/funnel_options.py [--events N (1000000)] [--rounds R (7)] [--warm W (2)]
Standard library only; needs curl and psql. Markdown to stdout.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ch_sql import compile_sql, hand_written, run  # noqa: E402
from export import (Server, build_quarry, clean_env, generate, load_store, log,  # noqa: E402
                    sh, start_stores, stop_all)

STEPS = [{"name": "screen_view"}, {"name": "sign_up"}, {"name": "purchase"}]


def steps_with(i, **extra):
    out = [dict(s) for s in STEPS]
    out[i].update(extra)
    return out


ANY_OF = steps_with(1, anyOf=[{"name": "sign_up"}, {"name": "session_start"}])
del ANY_OF[1]["name"]
EXCLUDE = json.dumps([{"name": "session_end", "from": 1, "to": 3}])
# Request kinds: (label, events, extra parameters).
KINDS = [
    ("plain (§7)", STEPS, {}),
    ("funnelOrder=strict", STEPS, {"funnelOrder": "strict"}),
    ("funnelOrder=any", STEPS, {"funnelOrder": "any"}),
    ("step 2 is anyOf sign_up, session_start", ANY_OF, {}),
    ("step 2 window 1 h", steps_with(1, window=1), {}),
    ("exclusion session_end from 1 to 3", STEPS, {"exclusions": EXCLUDE}),
    ("funnelRange=entry", STEPS, {"funnelRange": "entry"}),
    ("previous=true", STEPS, {"previous": "true"}),
    ("interval=day", STEPS, {"interval": "day"}),
    ("timeToConvert=true", STEPS, {"timeToConvert": "true"}),
    ("step 2 window 24 h (= the funnel window: §7's meaning, and statement)",
     steps_with(1, window=24), {}),
    ("breakdowns country, attribution last", STEPS,
     {"breakdowns": json.dumps([{"name": "country"}]), "breakdownAttribution": "last"}),
    ("all of the above", steps_with(1, window=1), {
        "funnelOrder": "strict", "exclusions": EXCLUDE, "funnelRange": "entry",
        "previous": "true", "interval": "day", "timeToConvert": "true",
        "breakdowns": json.dumps([{"name": "country"}]), "breakdownAttribution": "last"}),
]


def query(events, extra):
    return urllib.parse.urlencode({"events": json.dumps(events), "range": "30d", **extra})


def get(port, qs, headers):
    args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code} %{time_total}"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run(args + [f"http://127.0.0.1:{port}/export/funnel?projectId=bench&{qs}"],
                         check=True, capture_output=True, text=True).stdout
    body, _, tail = out.rpartition("\n")
    code, secs = tail.split()
    if code != "200":
        raise SystemExit(f"{qs}: HTTP {code}: {body[:300]}")
    return json.loads(body), float(secs) * 1000.0


def time_kinds(port, headers, rounds, warm):
    """Medians per kind, and each kind's step counts (to check kinds of equal meaning)."""
    times = {k[0]: [] for k in KINDS}
    counts = {}
    order = list(range(len(KINDS)))
    for r in range(warm + rounds):
        shift = r % len(order)
        for i in order[shift:] + order[:shift]:
            label, events, extra = KINDS[i]
            body, ms = get(port, query(events, extra), headers)
            counts[label] = [s["count"] for s in body["steps"]]
            if r >= warm:
                times[label].append(ms)
    return {k: statistics.median(v) for k, v in times.items()}, counts


def ch_engine(quarry, url, now_iso, rounds):
    """Engine `elapsed` of Quarry's statements against hand-written windowFunnel queries of
    the same meaning: the plain funnel, a request that means the same (a 24 h step window,
    which takes §7's statement), and a step with alternatives; and whether they agree."""
    plain_sql, plain_params = compile_sql(quarry, "funnel", query(STEPS, {}), "bench", now_iso)
    start, end = plain_params["param_p2"], plain_params["param_p3"]
    raw = hand_written("funnel", "bench", start, end)
    any_of = raw.replace("name = 'sign_up', name = 'purchase'",
                         "name IN ('sign_up', 'session_start'), name = 'purchase'").replace(
        "'sign_up', 'purchase')", "'sign_up', 'session_start', 'purchase')")
    cases = [
        ("Quarry, plain request (`windowFunnel` form)", (plain_sql, plain_params), raw),
        ("Quarry, 24 h step window (§7's statement: the window cannot fail)",
         compile_sql(quarry, "funnel", query(*KINDS[10][1:]), "bench", now_iso), raw),
        ("Quarry, step 2 anyOf sign_up, session_start (`windowFunnel` form)",
         compile_sql(quarry, "funnel", query(*KINDS[3][1:]), "bench", now_iso), any_of),
    ]
    out = []
    for label, (sql, params), hand in cases:
        tq, th = [], []
        for r in range(2 + rounds):
            rows_q, a = run(url, "openpanel", sql, params)
            rows_h, b = run(url, "openpanel", hand, {})
            if r >= 2:
                tq.append(a)
                th.append(b)
        levels = {}
        for row in rows_q:
            level, n = int(row[0]), int(row[-1])
            if level > 0:
                levels[level] = levels.get(level, 0) + n
        same = levels == {int(level): int(n) for level, n in rows_h}
        out.append((label, statistics.median(tq), statistics.median(th), same))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--backends", default="SQLite,PostgreSQL,ClickHouse",
                    help="comma-separated subset of SQLite, PostgreSQL, ClickHouse")
    args = ap.parse_args()
    wanted = args.backends.split(",")
    quarry, rev = build_quarry()
    work = tempfile.mkdtemp(prefix="quarry-funnel-bench.")
    env = clean_env()
    servers, started = [], {}
    try:
        data = os.path.join(work, "events.ndjson")
        now_ms = generate(args.events, data)
        now_iso = subprocess.run(
            ["date", "-u", "-d", f"@{now_ms // 1000}", "+%Y-%m-%dT%H:%M:%SZ"],
            check=True, capture_output=True, text=True).stdout.strip()
        stores = start_stores(env, work, started)
        shapes = {"SQLite": stores["sqlite"], "PostgreSQL": stores["pg"],
                  "ClickHouse": stores["ch"]}
        results, counts = {}, {}
        for b, extra in shapes.items():
            if b not in wanted:
                continue
            benv = {**env, **extra, "RUST_LOG": "error", "QUARRY_RATE_LIMIT": "off"}
            headers = load_store(quarry, benv, data)
            if b == "PostgreSQL":
                sh("psql", "-X", "-q", benv["QUARRY_DATABASE_URL"], "-c", "ANALYZE events")
            log(f"{b}: imported")
            srv = Server(quarry, benv, work, b)
            servers.append(srv)
            results[b], counts[b] = time_kinds(srv.port, headers, args.rounds, args.warm)
            log(f"{b}: timed")
            srv.stop()
            servers.remove(srv)
        engine = (ch_engine(quarry, env["CLICKHOUSE_URL"], now_iso, args.rounds)
                  if "ClickHouse" in wanted else [])

        print(f"\n{args.events} events, commit {rev}; {args.warm} untimed and {args.rounds} "
              f"timed rounds, request kinds in a rotating order; medians of curl's time_total, "
              f"ms (× = ÷ the plain funnel on the same backend). Reproduce: "
              f"benches/funnel_options.py --events {args.events} --rounds {args.rounds}"
              f"{'' if len(wanted) == 3 else ' --backends ' + args.backends}\n")
        backends = list(results)
        print("| request | " + " | ".join(f"{b}, ms | ×" for b in backends) + " |")
        print("|---|" + "---:|---:|" * len(backends))
        for label, _e, _x in KINDS:
            cells = []
            for b in backends:
                ms = results[b][label]
                cells += [f"{ms:.0f}", f"{ms / results[b][KINDS[0][0]]:.2f}"]
            print(f"| {label} | " + " | ".join(cells) + " |")
        same_backends = all(counts[b] == counts[backends[0]] for b in backends)
        same_meaning = all(c[KINDS[0][0]] == c[KINDS[10][0]] for c in counts.values())
        print(f"\nStep counts identical on the backends run ({', '.join(backends)}) for every kind: "
              f"{'yes' if same_backends else 'NO'}; the 24 h step window gives the plain "
              f"funnel's counts: {'yes' if same_meaning else 'NO'}.")
        print("\nClickHouse, engine `elapsed` medians, ms; each statement alternating with a "
              "hand-written `windowFunnel` query of the same meaning (benches/ch_sql.py's):\n")
        print("| statement | Quarry, ms | hand-written, ms | ÷ hand-written | same levels |")
        print("|---|---:|---:|---:|---|")
        for label, q, h, same in engine:
            print(f"| {label} | {q:.1f} | {h:.1f} | {q / h:.2f} | {'yes' if same else 'NO'} |")
    finally:
        stop_all(servers, started, env, work)


if __name__ == "__main__":
    main()
