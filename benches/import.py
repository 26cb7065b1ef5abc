#!/usr/bin/env python3
"""`quarry import` of N events (benches/backends_gen.py, one project) into an empty store on
SQLite, PostgreSQL and ClickHouse (+ PostgreSQL catalog), against:

 - PostgreSQL's own bulk path on the same server: `COPY` of the same rows (text format,
   dumped from the first Quarry import) into a table without indexes, then the primary
   key and the two indexes of Quarry's schema, then `VACUUM ANALYZE`;
 - optionally an older `quarry` binary (`--base PATH`): each round imports with both
   binaries, alternating, so that the machine's noise hits both alike.

Each import runs under /usr/bin/time -v: wall time and the peak RSS of `quarry`. Medians
of ROUNDS rounds. PostgreSQL and ClickHouse (the chdb test server) are started by scripts/
and stopped on exit. Markdown tables go to stdout; docs/performance.md records a run.

Usage: benches/import.py [--events N, default 1000000] [--rounds R, default 3]
                         [--base PATH] [--backends sqlite,pg,ch]
Standard library only; needs psql and /usr/bin/time.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import build_quarry, clean_env, generate, log, sh, start  # noqa: E402


def psql(url, *sql):
    args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url]
    for s in sql:
        args += ["-c", s]
    return sh(*args, capture_output=True, text=True).stdout


def event_indexes(url):
    """The CREATE INDEX statements of the events table's secondary indexes, as Quarry's
    migrations made them: the COPY baseline drops and builds the same ones."""
    out = sh("psql", "-X", "-q", "-A", "-t", url, "-c",
             "SELECT indexdef FROM pg_indexes WHERE tablename = 'events' "
             "AND indexname <> 'events_pkey' ORDER BY indexname",
             capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def bare_events(url):
    """Empty the events table and drop its indexes and key; returns the statements that
    build the indexes again."""
    indexes = event_indexes(url)
    names = ", ".join(d.split()[2] for d in indexes)
    psql(url, f"DROP INDEX {names}", "ALTER TABLE events DROP CONSTRAINT events_pkey",
         "TRUNCATE events")
    return indexes


def timed_import(quarry, data, env, work):
    """Wall seconds and peak RSS (KiB) of one `quarry import`."""
    stats = os.path.join(work, "time.txt")
    sh(quarry, "migrate", env=env, stdout=subprocess.DEVNULL)
    t0 = time.perf_counter()
    sh("/usr/bin/time", "-v", "-o", stats, quarry, "import", data, "--project", "bench",
       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    secs = time.perf_counter() - t0
    with open(stats) as f:
        kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", f.read()).group(1))
    return secs, kb


def stop_databases(started, env):
    """Stop the servers `start` started (`started`: {"pg"|"ch": their environment})."""
    if "ch" in started:
        subprocess.run([os.path.join(ROOT, "scripts", "stop-clickhouse.sh"),
                        started["ch"]["CLICKHOUSE_PID"]], env=env)
    if "pg" in started:
        subprocess.run([os.path.join(ROOT, "scripts", "stop-postgres.sh")], env=env)


class Stores:
    """A fresh, empty store per import."""

    def __init__(self, env, work):
        self.env, self.work, self.n = env, work, 0
        self.pg_base = env["DATABASE_URL"].rsplit("/", 1)[0]

    def fresh(self, backend):
        self.n += 1
        name = f"s{self.n}"
        if backend == "sqlite":
            return {"QUARRY_DATABASE_URL": f"sqlite://{self.work}/{name}.db"}, name
        psql(self.env["DATABASE_URL"], f"CREATE DATABASE {name}")
        if backend == "pg":
            return {"QUARRY_DATABASE_URL": f"{self.pg_base}/{name}"}, name
        return {"QUARRY_DATABASE_URL": f"{self.pg_base}/{name}",
                "QUARRY_CLICKHOUSE_URL": self.env["CLICKHOUSE_URL"],
                "QUARRY_CLICKHOUSE_DATABASE": name}, name

    def drop(self, backend, name):
        if backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                path = os.path.join(self.work, f"{name}.db{suffix}")
                if os.path.exists(path):
                    os.remove(path)
            return
        psql(self.env["DATABASE_URL"], f"DROP DATABASE {name}")
        if backend == "ch":
            import urllib.request
            req = urllib.request.Request(self.env["CLICKHOUSE_URL"],
                                         data=f"DROP DATABASE IF EXISTS {name}".encode())
            urllib.request.urlopen(req).read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", help="an older quarry binary to compare with, alternating")
    ap.add_argument("--backends", default="sqlite,pg,ch")
    args = ap.parse_args()
    backends = args.backends.split(",")

    quarry, rev = build_quarry()
    binaries = [("quarry", quarry)] + ([("base", args.base)] if args.base else [])

    work = tempfile.mkdtemp(prefix="quarry-import-bench.")
    env = clean_env()
    started = {}
    try:
        data = os.path.join(work, "events.ndjson")
        generate(args.events, data)
        started["pg"] = start("start-postgres.sh", env)
        env.update(started["pg"])
        if "ch" in backends:
            started["ch"] = start("start-clickhouse.sh", env)
            env.update(started["ch"])
        stores = Stores(env, work)
        times = {(b, label): [] for b in backends for label, _ in binaries}
        rss = {(b, label): [] for b in backends for label, _ in binaries}
        copy_times = []
        dump = os.path.join(work, "events.copy")
        for r in range(args.rounds):
            order = binaries if r % 2 == 0 else list(reversed(binaries))
            for b in backends:
                for label, binary in order:
                    extra, name = stores.fresh(b)
                    benv = {**env, **extra, "RUST_LOG": "error"}
                    secs, kb = timed_import(binary, data, benv, work)
                    times[(b, label)].append(secs)
                    rss[(b, label)].append(kb)
                    log(f"round {r + 1}: {b} {label}: {secs:.1f} s, {kb / 1024:.1f} MiB")
                    if b == "pg" and not os.path.exists(dump):
                        url = extra["QUARRY_DATABASE_URL"]
                        with open(dump, "w") as f:
                            sh("psql", "-X", "-q", url, "-c",
                               "COPY events TO STDOUT", stdout=f)
                        indexes = bare_events(url)
                        # The bare table, empty, kept as the template of the baseline.
                        psql(env["DATABASE_URL"], "CREATE DATABASE copy_template "
                             f"TEMPLATE {name}")
                    stores.drop(b, name)
                if b == "pg":
                    psql(env["DATABASE_URL"], "DROP DATABASE IF EXISTS copybase",
                         "CREATE DATABASE copybase TEMPLATE copy_template")
                    url = f"{stores.pg_base}/copybase"
                    t0 = time.perf_counter()
                    with open(dump) as f:
                        sh("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url,
                           "-c", "COPY events FROM STDIN", stdin=f)
                    psql(url, "ALTER TABLE events ADD PRIMARY KEY (id)", *indexes,
                         "VACUUM ANALYZE events")
                    copy_times.append(time.perf_counter() - t0)
                    log(f"round {r + 1}: pg COPY + indexes + VACUUM ANALYZE: "
                        f"{copy_times[-1]:.1f} s")

        names = {"sqlite": "SQLite", "pg": "PostgreSQL", "ch": "ClickHouse + PostgreSQL catalog"}
        print(f"\n{args.events} events ({os.path.getsize(data) / 1e6:.0f} MB of NDJSON), "
              f"commit {rev}, {args.rounds} rounds, medians; reproduce: benches/import.py "
              f"--events {args.events} --rounds {args.rounds}"
              + (" --base OLD_BINARY" if args.base else "") + "\n")
        head = "| backend | `quarry import`, s | events/s | peak RSS, MiB |"
        line = "|---|---:|---:|---:|"
        if args.base:
            head += " older binary, s | speed-up |"
            line += "---:|---:|"
        print(head)
        print(line)
        for b in backends:
            t = statistics.median(times[(b, "quarry")])
            row = (f"| {names[b]} | {t:.1f} | {args.events / t:,.0f} | "
                   f"{max(rss[(b, 'quarry')]) / 1024:.1f} |")
            if args.base:
                tb = statistics.median(times[(b, "base")])
                row += f" {tb:.1f} | {tb / t:.2f}× |"
            print(row)
        if copy_times:
            c = statistics.median(copy_times)
            t = statistics.median(times[("pg", "quarry")])
            print(f"\nPostgreSQL's own path (COPY, primary key and indexes, VACUUM ANALYZE): "
                  f"{c:.1f} s; `quarry import` ÷ that: {t / c:.2f}×")
    finally:
        stop_databases(started, env)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
