#!/usr/bin/env python3
"""Streamed export of every row (NDJSON, or `--format csv|parquet`), two builds of
`quarry serve` side by side against the engine's own export (benches/export.py's
`native`), on one backend.

The same generated events (benches/backends_gen.py, one project over 45 days) are
imported once; both builds serve the same store at once, and each round streams through
A, through B and from the engine in a rotating order, so a noisy machine slows all three
alike. Medians of curl's time_total, and each build's peak resident memory.

Usage: benches/stream_ab.py QUARRY_A QUARRY_B [--backend ch|pg|sqlite] [--events N]
       [--rounds R] [--format ndjson|csv|parquet]
The engine's own export is always its JSON one (a reference, not the same bytes when the
format is not NDJSON).
QUARRY_A and QUARRY_B are release binaries (e.g. a build of an older commit with
CARGO_TARGET_DIR set elsewhere, and target/release/quarry). Standard library only.
"""

import os
import statistics
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export  # noqa: E402  (benches/export.py: the servers, the stores, the engine's export)


def main():
    ap = export.two_builds(rounds=7)
    ap.add_argument("--backend", choices=("ch", "pg", "sqlite"), default="ch")
    ap.add_argument("--format", choices=("ndjson", "csv", "parquet"), default="ndjson")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="quarry-stream-ab.")
    env = export.clean_env()
    servers, started = [], {}
    try:
        data = os.path.join(work, "events.ndjson")
        export.generate(args.events, data)
        shapes = export.start_stores(env, work, started)
        benv = {**env, **shapes[args.backend], "RUST_LOG": "error",
                "QUARRY_RATE_LIMIT": "off"}
        headers = export.load_store(args.quarry_b, benv, data)
        builds = {"A": args.quarry_a, "B": args.quarry_b}
        for name, binary in builds.items():
            servers.append(export.Server(binary, benv, work, name))
        times = {"A": [], "B": [], "engine": []}
        peaks = {"A": [], "B": []}

        def stream(i):
            srv = servers[i]
            stop, seen = threading.Event(), []
            t = threading.Thread(target=export.sample_rss, args=(srv.proc.pid, stop, seen))
            t.start()
            ms, size = export.timed_get(
                f"http://127.0.0.1:{srv.port}/export/events?projectId=bench&format={args.format}",
                headers)
            stop.set()
            t.join()
            return ms, size, max(seen)

        kinds = [("A", lambda: stream(0)), ("B", lambda: stream(1)),
                 ("engine", lambda: export.native(args.backend, env, work))]
        sizes = {}
        for r in range(args.rounds + 1):
            order = kinds[r % 3:] + kinds[:r % 3]
            for name, run in order:
                res = run()
                sizes[name] = res[1]
                if r == 0:
                    continue  # untimed round
                times[name].append(res[0])
                if name in peaks:
                    peaks[name].append(res[2])
            export.log(f"round {r}: " + ", ".join(
                f"{k} {v[-1]:.0f} ms" for k, v in times.items() if v))
        eng = statistics.median(times["engine"])
        print(f"\n{args.events} events, {args.backend}, {args.format}, {args.rounds} rounds "
              f"(rotating order); reproduce: benches/stream_ab.py A B --backend {args.backend} "
              f"--events {args.events} --rounds {args.rounds} --format {args.format}\n")
        print("| stream | median ms | MB | ÷ engine | peak RSS, MiB |")
        print("|---|---:|---:|---:|---:|")
        for name in ("A", "B", "engine"):
            med = statistics.median(times[name])
            peak = f"{max(peaks[name]) / 1024:.0f}" if name in peaks else "—"
            print(f"| {name} | {med:.0f} | {sizes[name] / 1e6:.0f} | {med / eng:.2f}× | {peak} |")
        print(f"\nB ÷ A: {statistics.median(times['B']) / statistics.median(times['A']):.2f}×")
    finally:
        export.stop_all(servers, started, env, work)


if __name__ == "__main__":
    main()
