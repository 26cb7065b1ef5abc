#!/usr/bin/env python3
"""Two builds of `quarry serve` on SQLite side by side, PostgreSQL (through build B) for
reference: `one_event_per_user` over windows of 1 to 45 days and the filtered funnel with
and without options, the requests of issue 12's SQLite rows.

The same generated events (benches/backends_gen.py, one project over 45 days) are
imported by build A into a SQLite file; a copy of that file is migrated by build B (so
each build reads the schema it knows, A's without B's new migrations), both are
`ANALYZE`d by their `quarry import`, and B also loads them into PostgreSQL. Each round
asks every request of the three servers in a rotating order; medians of curl's
time_total after 2 untimed rounds; every answer must be identical across the three.

Usage: benches/sqlite_ab.py QUARRY_A QUARRY_B [--events N (1000000)] [--rounds R (9)]
QUARRY_A and QUARRY_B are release binaries (e.g. a build of an older commit with
CARGO_TARGET_DIR set elsewhere, and target/release/quarry). Markdown to stdout.
Standard library only; needs curl and psql.
"""

import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402  (benches/export.py: the servers, the stores, the data)

DE = {"name": "country", "operator": "is", "value": ["DE"]}


def requests(end):
    """(title, path) of every request, windows ending on `end` (a date)."""
    def day(d):
        return str(end - datetime.timedelta(days=d - 1))
    out = []
    for days in (1, 7, 14, 30, 45):
        qs = {"events": json.dumps([{"name": "screen_view", "segment": "one_event_per_user"}]),
              "interval": "day", "startDate": day(days), "endDate": str(end)}
        out.append((f"one_event_per_user, {days} day{'s' if days > 1 else ''}",
                    "/export/charts?" + urllib.parse.urlencode(qs)))
    steps = [{"name": "screen_view", "filters": [DE]}, {"name": "sign_up"},
             {"name": "purchase"}]
    windowed = [dict(s) for s in steps]
    windowed[1]["window"] = 1
    funnels = [("", steps, {}), (", 1 h step window", windowed, {}),
               (", funnelOrder=any", steps, {"funnelOrder": "any"}),
               (", funnelRange=entry", steps, {"funnelRange": "entry"}),
               (", timeToConvert", steps, {"timeToConvert": "true"})]
    for label, events, extra in funnels:
        qs = {"events": json.dumps(events), "startDate": day(30), "endDate": str(end), **extra}
        out.append((f"funnel screen_view (DE) → sign_up → purchase, 30 days{label}",
                    "/export/funnel?" + urllib.parse.urlencode(qs)))
    return out


def main():
    args = export.two_builds().parse_args()
    work = tempfile.mkdtemp(prefix="quarry-sqlite-ab.")
    env = export.clean_env()
    servers, started = [], {}
    try:
        data = os.path.join(work, "events.ndjson")
        now_ms = export.generate(args.events, data)
        started["pg"] = export.start("start-postgres.sh", env)
        env.update(started["pg"])
        export.sh("psql", "-X", "-q", env["DATABASE_URL"], "-c", "CREATE DATABASE bench")
        common = {**env, "RUST_LOG": "error", "QUARRY_RATE_LIMIT": "off"}
        a_file, b_file = os.path.join(work, "a.db"), os.path.join(work, "b.db")
        stores = {
            "A": (args.quarry_a, {**common, "QUARRY_DATABASE_URL": f"sqlite://{a_file}"}),
            "B": (args.quarry_b, {**common, "QUARRY_DATABASE_URL": f"sqlite://{b_file}"}),
            "PostgreSQL": (args.quarry_b, {
                **common,
                "QUARRY_DATABASE_URL": env["DATABASE_URL"].rsplit("/", 1)[0] + "/bench"}),
        }
        headers = {"A": export.load_store(args.quarry_a, stores["A"][1], data)}
        headers["B"] = headers["A"]  # a copy of the same file: the same client
        for suffix in ("", "-wal"):  # with its write-ahead log: the client is there
            if os.path.exists(a_file + suffix):
                shutil.copy(a_file + suffix, b_file + suffix)
        export.sh(args.quarry_b, "migrate", env=stores["B"][1], stdout=subprocess.DEVNULL)
        headers["PostgreSQL"] = export.load_store(args.quarry_b, stores["PostgreSQL"][1], data)
        export.log("stores loaded")
        ports = {}
        for name, (binary, senv) in stores.items():
            srv = export.Server(binary, senv, work, name.lower())
            servers.append(srv)
            ports[name] = srv.port
        end = datetime.datetime.fromtimestamp(now_ms / 1000, datetime.timezone.utc).date()
        reqs = requests(end)
        names = list(stores)
        times = export.interleaved(ports, headers, reqs, args.rounds, work)
        rev = export.head_commit()
        print(f"{args.events} events; A = {args.quarry_a}, B = {args.quarry_b} (HEAD {rev}); "
              f"2 untimed and {args.rounds} timed rounds, medians of curl's time_total, ms; "
              "every answer identical on the three.\n")
        print("| request | A, ms | B, ms | B ÷ A | PostgreSQL, ms | B ÷ PostgreSQL |")
        print("|---|---:|---:|---:|---:|---:|")
        for title, _ in reqs:
            a, b, p = (statistics.median(times[(n, title)]) for n in names)
            print(f"| {title} | {a:.1f} | {b:.1f} | {b / a:.2f} | {p:.1f} | {b / p:.2f} |")
    finally:
        export.stop_all(servers, started, env, work)


if __name__ == "__main__":
    main()
