#!/usr/bin/env python3
"""Two builds of `quarry serve` side by side on SQLite and PostgreSQL: the funnel requests
that run more than one statement (`previous`, `timeToConvert`, `breakdowns`, and all
three), with the plain funnel for reference.

The same generated events (benches/backends_gen.py, one project over 45 days) are
imported by build A into a SQLite file, copied for build B, and imported by A into one
PostgreSQL database that both builds serve. Each round asks every request of the four
servers in a rotating order; medians of curl's time_total after 2 untimed rounds; every
answer must be identical on the four.

Usage: benches/funnel_ab.py QUARRY_A QUARRY_B [--events N (1000000)] [--rounds R (9)]
                           [--every-kind]
QUARRY_A and QUARRY_B are release binaries of builds with the same migrations. Markdown to
stdout. Standard library only; needs curl and psql.
"""

import json
import os
import shutil
import statistics
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402  (benches/export.py: the servers, the stores, the data)
from funnel_options import KINDS, STEPS  # noqa: E402

WANTED = ["plain (§7)", "previous=true", "timeToConvert=true",
          "breakdowns country, attribution last"]


def requests(every):
    """(title, path) of every request: with `every`, every kind of benches/funnel_options.py
    but those with `funnelRange=entry` (whose pending counts move with the clock between
    the servers' answers); otherwise those that run more than one statement, and the
    plain funnel."""
    if every:
        kinds = [k for k in KINDS if k[2].get("funnelRange") != "entry"]
    else:
        kinds = [k for k in KINDS if k[0] in WANTED]
        kinds.append(("previous, timeToConvert and breakdowns", STEPS, {
            "previous": "true", "timeToConvert": "true",
            "breakdowns": json.dumps([{"name": "country"}]), "breakdownAttribution": "last"}))
    return [(label, "/export/funnel?" + urllib.parse.urlencode(
        {"projectId": "bench", "events": json.dumps(events), "range": "30d", **extra}))
        for label, events, extra in kinds]


def main():
    ap = export.two_builds()
    ap.add_argument("--every-kind", action="store_true",
                    help="every request kind of benches/funnel_options.py")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="quarry-funnel-ab.")
    env = export.clean_env()
    servers, started = [], {}
    try:
        data = os.path.join(work, "events.ndjson")
        export.generate(args.events, data)
        started["pg"] = export.start("start-postgres.sh", env)
        env.update(started["pg"])
        export.sh("psql", "-X", "-q", env["DATABASE_URL"], "-c", "CREATE DATABASE bench")
        common = {**env, "RUST_LOG": "error", "QUARRY_RATE_LIMIT": "off"}
        a_file, b_file = os.path.join(work, "a.db"), os.path.join(work, "b.db")
        pg = {**common, "QUARRY_DATABASE_URL": env["DATABASE_URL"].rsplit("/", 1)[0] + "/bench"}
        stores = {
            "SQLite A": (args.quarry_a, {**common, "QUARRY_DATABASE_URL": f"sqlite://{a_file}"}),
            "SQLite B": (args.quarry_b, {**common, "QUARRY_DATABASE_URL": f"sqlite://{b_file}"}),
            "PostgreSQL A": (args.quarry_a, pg),
            "PostgreSQL B": (args.quarry_b, pg),
        }
        sqlite = export.load_store(args.quarry_a, stores["SQLite A"][1], data)
        for suffix in ("", "-wal"):  # with its write-ahead log: the client is there
            if os.path.exists(a_file + suffix):
                shutil.copy(a_file + suffix, b_file + suffix)
        postgres = export.load_store(args.quarry_a, pg, data)
        headers = {"SQLite A": sqlite, "SQLite B": sqlite,
                   "PostgreSQL A": postgres, "PostgreSQL B": postgres}
        export.log("stores loaded")
        ports = {}
        for name, (binary, senv) in stores.items():
            srv = export.Server(binary, senv, work, name.lower().replace(" ", "-"))
            servers.append(srv)
            ports[name] = srv.port
        reqs = requests(args.every_kind)
        times = export.interleaved(ports, headers, reqs, args.rounds, work)
        rev = export.head_commit()
        print(f"{args.events} events; A = {args.quarry_a}, B = {args.quarry_b} (HEAD {rev}); "
              f"2 untimed and {args.rounds} timed rounds, medians of curl's time_total, ms; "
              "every answer identical on the four.\n")
        print("| request | SQLite A | SQLite B | B ÷ A | PostgreSQL A | PostgreSQL B | B ÷ A |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for title, _ in reqs:
            sa, sb, pa, pb = (statistics.median(times[(n, title)]) for n in stores)
            print(f"| {title} | {sa:.1f} | {sb:.1f} | {sb / sa:.2f} | {pa:.1f} | {pb:.1f} "
                  f"| {pb / pa:.2f} |")
    finally:
        export.stop_all(servers, started, env, work)


if __name__ == "__main__":
    main()
