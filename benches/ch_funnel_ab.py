#!/usr/bin/env python3
"""Two builds' ClickHouse statements for the general funnel, side by side in one run.

Usage: benches/ch_funnel_ab.py A B [--events N (1000000)] [--rounds R (9)]

A and B are `quarry` binaries (only `quarry compile` is run, so a debug build does). One
project of N events (benches/backends_gen.py) is imported into the ClickHouse test server
by B; for each request kind of benches/funnel_options.py that leaves §7's statement (an
order mode, a step window, an exclusion, an entry-bounded range), the levels statement of
A and of B and the hand-written `windowFunnel` query of the plain funnel
(benches/ch_sql.py) are sent in alternating order, after two untimed rounds; medians of
the engine's own `elapsed`. The hand-written query has the plain funnel's meaning, so it
is a scale (a 24 h step window, which has its levels, takes `windowFunnel` itself).
A's and B's rows are compared. Markdown to stdout.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ch_sql import compile_sql, hand_written, run  # noqa: E402
from export import (clean_env, clickhouse_with_events, head_commit, log,  # noqa: E402
                    rotating, stop_all, two_builds)
from funnel_options import KINDS, query  # noqa: E402

GENERAL = ["funnelOrder=strict", "funnelOrder=any", "step 2 window 1 h",
           "exclusion session_end from 1 to 3", "funnelRange=entry"]


def main():
    args = two_builds().parse_args()
    rev = head_commit()
    work = tempfile.mkdtemp(prefix="quarry-ch-funnel-ab.")
    env = clean_env()
    started = {}
    try:
        url, now = clickhouse_with_events(args.quarry_b, args.events, env, work, started)
        rows = []
        for label, events, extra in KINDS:
            if label not in GENERAL:
                continue
            qs = query(events, extra)
            a = compile_sql(args.quarry_a, "funnel", qs, "bench", now)
            b = compile_sql(args.quarry_b, "funnel", qs, "bench", now)
            hand = hand_written("funnel", "bench", b[1]["param_p2"], b[1]["param_p3"])
            cases = [("a", *a), ("b", *b), ("h", hand, {})]
            med, answers = rotating(cases, args.rounds,
                                    lambda c: run(url, "openpanel", c[1], c[2]))
            rows.append((label, med, answers["a"] == answers["b"]))
            log(f"{label}: timed")
        print(f"\n{args.events} events, commit {rev}; A = {args.quarry_a}, B = {args.quarry_b}; 2 untimed "
              f"and {args.rounds} timed rounds in rotating order; medians of ClickHouse's "
              f"`elapsed`, ms. Reproduce: benches/ch_funnel_ab.py A B --events {args.events} "
              f"--rounds {args.rounds}\n")
        print("| request | A, ms | B, ms | B ÷ A | hand-written plain `windowFunnel`, ms "
              "| B ÷ hand-written | same rows |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for label, m, same in rows:
            print(f"| {label} | {m['a']:.1f} | {m['b']:.1f} | {m['b'] / m['a']:.2f} | "
                  f"{m['h']:.1f} | {m['b'] / m['h']:.2f} | {'yes' if same else 'NO'} |")
    finally:
        stop_all([], started, env, work)


if __name__ == "__main__":
    main()
