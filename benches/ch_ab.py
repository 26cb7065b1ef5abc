#!/usr/bin/env python3
"""Two builds' ClickHouse SQL for the same requests, side by side: each request is compiled
by both (`quarry compile --dialect clickhouse`), both statements are sent with their
parameters to ClickHouse's HTTP interface in alternating rounds, and the engine's own
`elapsed` is compared. The answers must be identical.

For a change to the SQL of charts or funnels: build the commit before it, then

    benches/ch_ab.py OLD_QUARRY NEW_QUARRY CLICKHOUSE_URL DATABASE PROJECT NOW [ROUNDS]

NOW: RFC 3339, where the data ends. Standard library only (reuses benches/ch_sql.py).
"""

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ch_sql import compile_sql, run  # noqa: E402

THREE = ('[{"name":"screen_view"},{"name":"session_start","segment":"user"},'
         '{"name":"purchase","segment":"property_sum","property":"properties.total"}]')
REQUESTS = {
    "3 events + previous period": ("charts", f"events={THREE}&range=30d&interval=day&previous=true"),
    "… with a country breakdown": (
        "charts", f'events={THREE}&range=30d&interval=day&previous=true&breakdowns=[{{"name":"country"}}]'),
    "users and sessions per day": (
        "charts", 'events=[{"name":"screen_view","segment":"user"},'
                  '{"name":"screen_view","segment":"session"}]&range=30d&interval=day'),
}


def rounded(rows):
    """Rows with every number to 6 decimals: a float sum merged from parallel threads may
    differ in its last bits from run to run (responses round to 2 decimals)."""
    def cell(v):
        try:
            return round(float(v), 6)
        except (TypeError, ValueError):
            return v
    return [[cell(v) for v in row] for row in rows]


def main():
    old, new, url, database, project, now, *rest = sys.argv[1:]
    rounds = int(rest[0]) if rest else 15
    print("| request | old build, ms | new build, ms | new ÷ old | same answer |")
    print("|---|---:|---:|---:|---|")
    for name, (endpoint, qs) in REQUESTS.items():
        a = compile_sql(old, endpoint, qs, project, now)
        b = compile_sql(new, endpoint, qs, project, now)
        for _ in range(2):  # warm-up
            run(url, database, *a)
            run(url, database, *b)
        ta, tb = [], []
        same = True
        for r in range(rounds):
            first, second = (a, b) if r % 2 == 0 else (b, a)
            rows1, t1 = run(url, database, *first)
            rows2, t2 = run(url, database, *second)
            (ta if first is a else tb).append(t1)
            (tb if second is b else ta).append(t2)
            same = same and rounded(rows1) == rounded(rows2)
        ma, mb = statistics.median(ta), statistics.median(tb)
        print(f"| {name} | {ma:.1f} | {mb:.1f} | {mb / ma:.2f}× | {'yes' if same else 'NO'} |")
    print(f"\n{rounds} alternating rounds, engine `elapsed` medians.")


if __name__ == "__main__":
    main()
