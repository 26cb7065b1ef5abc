#!/usr/bin/env python3
"""A rare event's chart on ClickHouse with and without `quarry migrate --events-by-name`:
Quarry's SQL for a 30-day daily `property_sum` chart of one event (compiled by `quarry
compile`), run with the projection allowed and with it switched off
(`optimize_use_projections`), against an OpenPanel-style query of the same meaning on the
plain table (`sum(toFloat64OrZero(properties[...]))` by `toStartOfDay`). Engine `elapsed`
and `rows_read`, medians of ROUNDS alternating rounds; the numbers of all three must agree.
The database must hold the projection (run `quarry migrate --events-by-name` first).

Usage: benches/ch_rare.py QUARRY_BIN CLICKHOUSE_URL DATABASE PROJECT NOW [EVENT] [PROPERTY] [ROUNDS]
Standard library only (reuses benches/ch_sql.py).
"""

import json
import os
import statistics
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ch_sql import compile_sql  # noqa: E402


def run(url, database, sql, params):
    query = urllib.parse.urlencode({"database": database, **params})
    req = urllib.request.Request(f"{url}/?{query}", data=(sql + "\nFORMAT JSONCompact").encode())
    with urllib.request.urlopen(req) as resp:
        body = json.loads(resp.read())
    stats = body["statistics"]
    return body["data"], float(stats["elapsed"]) * 1000.0, int(stats["rows_read"])


def main():
    quarry, url, database, project, now, *rest = sys.argv[1:]
    event = rest[0] if len(rest) > 0 else "purchase"
    prop = rest[1] if len(rest) > 1 else "total"
    rounds = int(rest[2]) if len(rest) > 2 else 21
    qs = (f'events=[{{"name":"{event}","segment":"property_sum","property":"properties.{prop}"}}]'
          "&range=30d&interval=day")
    sql, params = compile_sql(quarry, "charts", qs, project, now)
    start, end = params["param_p2"], params["param_p3"]
    openpanel = (
        f"SELECT toStartOfDay(created_at) AS date, sum(toFloat64OrZero(properties['{prop}'])) "
        f"AS total FROM events WHERE project_id = '{project}' AND name = '{event}' "
        f"AND created_at >= fromUnixTimestamp64Milli({start}) "
        f"AND created_at <= fromUnixTimestamp64Milli({end}) GROUP BY date ORDER BY date")
    variants = {
        "Quarry, with the projection": (sql, {**params, "optimize_use_projections": "1"}),
        "Quarry, projection switched off": (sql, {**params, "optimize_use_projections": "0"}),
        "OpenPanel-style, plain table": (openpanel, {"optimize_use_projections": "0"}),
    }
    times = {k: [] for k in variants}
    rows_read, sums = {}, {}
    for k, (s, p) in variants.items():  # warm-up
        run(url, database, s, p)
    for r in range(rounds):
        order = list(variants.items())
        if r % 2:
            order.reverse()
        for k, (s, p) in order:
            data, ms, n = run(url, database, s, p)
            times[k].append(ms)
            rows_read[k] = n
            # Quarry's rows: cfg, period, bucket, value; OpenPanel's: date, total.
            column = 3 if k.startswith("Quarry") else 1
            values = [float(row[column]) for row in data]
            sums[k] = round(sum(values), 2)
    base = statistics.median(times["OpenPanel-style, plain table"])
    print("| query | ms | rows read | ÷ OpenPanel-style | total of the answer |")
    print("|---|---:|---:|---:|---:|")
    for k in variants:
        m = statistics.median(times[k])
        print(f"| {k} | {m:.1f} | {rows_read[k]:,} | {m / base:.2f}× | {sums[k]} |")
    print(f"\n{rounds} alternating rounds, engine `elapsed` medians.")


if __name__ == "__main__":
    main()
