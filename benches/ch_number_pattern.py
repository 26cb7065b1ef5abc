#!/usr/bin/env python3
"""§4.5's number pattern on ClickHouse: `match` with `(…)?` (the form Quarry sends since
e8a03a6) against the same pattern written with `{0,1}` on the group (the form before),
over generated strings, with the same strings' `length` as the floor. Engine `elapsed`
medians of interleaved rounds; the two patterns must match the same strings.

    eval "$(scripts/start-clickhouse.sh)"
    benches/ch_number_pattern.py --rows 20000000 --rounds 5
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ch_sql import run  # noqa: E402

STRINGS = ("SELECT toString(number * 37 % 100003) || multiIf(number % 3 = 0, '.25', "
           "number % 5 = 0, 'x', number % 7 = 0, '.', '') AS s FROM numbers({rows})")
FORMS = {
    "`^-?[0-9]+(\\.[0-9]+)?$` (now)": "'^-?[0-9]+(\\\\.[0-9]+)?$'",
    "`^-{0,1}[0-9]+(\\.[0-9]+){0,1}$` (before)": "'^-{0,1}[0-9]+(\\\\.[0-9]+){0,1}$'",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    url = os.environ["CLICKHOUSE_URL"]
    src = STRINGS.format(rows=args.rows)
    stmts = {label: f"SELECT sum(match(s, {p})) FROM ({src})" for label, p in FORMS.items()}
    stmts["`length(s)` (the floor: strings made and read)"] = f"SELECT sum(length(s) > 0) FROM ({src})"
    times = {k: [] for k in stmts}
    counts = {}
    order = list(stmts)
    for r in range(args.rounds + 1):
        for k in (order if r % 2 == 0 else order[::-1]):
            rows, ms = run(url, "default", stmts[k], {})
            n = rows[0][0]
            if r:
                times[k].append(ms)
            counts[k] = n
    matched = {counts[k] for k in order[:2]}
    floor = statistics.median(times[order[2]])
    print(f"{args.rows} strings, {args.rounds} rounds after 1 untimed, engine `elapsed` medians; "
          f"both patterns match {counts[order[0]]} (same: {len(matched) == 1})\n")
    print("| statement | ms | − floor, ms |")
    print("|---|---:|---:|")
    for k in order:
        m = statistics.median(times[k])
        print(f"| {k} | {m:.1f} | {m - floor:.1f} |")


if __name__ == "__main__":
    main()
