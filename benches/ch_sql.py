#!/usr/bin/env python3
"""Quarry's ClickHouse SQL against hand-written SQL of the same meaning, query for query.

benches/backends.sh times whole requests through `quarry serve`; this script isolates the
SQL: it compiles each request with `quarry compile --dialect clickhouse`, sends the
statement with its server-side parameters straight to ClickHouse's HTTP interface, sends
the hand-written statement for the same window (taken from the compiled parameters), in
alternating rounds, and reports the engine's own `elapsed` (JSONCompact statistics) for
both. It also checks that both return the same numbers.

Usage: benches/ch_sql.py QUARRY_BIN CLICKHOUSE_URL DATABASE PROJECT NOW [ROUNDS]
  NOW: RFC 3339; the data should end there (e.g. the time `quarry seed` ran).
Standard library only.
"""

import json
import re
import statistics
import subprocess
import sys
import urllib.parse
import urllib.request

CHART = '[{"name":"screen_view"}]'
FUNNEL = '[{"name":"screen_view"},{"name":"sign_up"},{"name":"purchase"}]'
REQUESTS = {
    "chart": ("charts", f"events={CHART}&range=30d&interval=day"),
    "breakdown": ("charts", f'events={CHART}&range=30d&interval=day&breakdowns=[{{"name":"country"}}]'),
    "funnel": ("funnel", f"events={FUNNEL}&range=30d"),
}


def compile_sql(quarry, endpoint, qs, project, now):
    out = subprocess.run(
        [quarry, "compile", "--dialect", "clickhouse", "--endpoint", endpoint,
         "--project", project, "--now", now, qs],
        check=True, capture_output=True, text=True).stdout
    # The first statement and its parameters (a request may print several statements).
    sql, _, tail = out.partition("-- params")
    tail = re.match(r"\n(?:-- \d+: .*\n?)*", tail).group(0)
    params = {}
    for m in re.finditer(r"^-- (\d+): (\w+)\((.*)\)$", tail, re.M):
        n, kind, raw = m.groups()
        if kind == "Text":
            value = json.loads(raw)
        elif kind == "Timestamp":
            value = raw.rsplit("= ", 1)[1]
        else:
            value = raw
        params[f"param_p{n}"] = value
    return sql.strip(), params


def run(url, database, sql, params):
    query = urllib.parse.urlencode({"database": database, **params})
    req = urllib.request.Request(f"{url}/?{query}", data=(sql + "\nFORMAT JSONCompact").encode())
    with urllib.request.urlopen(req) as resp:
        body = json.loads(resp.read())
    return body["data"], float(body["statistics"]["elapsed"]) * 1000.0


def hand_written(name, project, start, end):
    where = (f"project_id = '{project}' AND created_at >= fromUnixTimestamp64Milli({start}) "
             f"AND created_at <= fromUnixTimestamp64Milli({end}) AND name = 'screen_view'")
    if name == "chart":
        return (f"SELECT toStartOfDay(created_at, 'UTC') AS d, count() AS c FROM events "
                f"WHERE {where} GROUP BY d ORDER BY d")
    if name == "breakdown":
        return (f"SELECT toStartOfDay(created_at, 'UTC') AS d, country, count() AS c FROM events "
                f"WHERE {where} AND country IN (SELECT country FROM events WHERE {where} "
                f"GROUP BY country ORDER BY count() DESC LIMIT 300) "
                f"GROUP BY d, country ORDER BY d, country")
    where = where.replace(" AND name = 'screen_view'", "")
    return (f"SELECT level, count() AS sessions FROM (SELECT session_id, "
            f"windowFunnel(86400000, 'strict_increase')(toUInt64(toUnixTimestamp64Milli(created_at)), "
            f"name = 'screen_view', name = 'sign_up', name = 'purchase') AS level FROM events "
            f"WHERE {where} AND session_id != '' AND name IN ('screen_view', 'sign_up', 'purchase') "
            f"GROUP BY session_id) WHERE level > 0 GROUP BY level ORDER BY level")


def numbers(name, quarry_rows, raw_rows):
    """The numbers both answers must agree on."""
    if name == "chart":
        return [float(r[3]) for r in quarry_rows], [float(r[1]) for r in raw_rows]
    if name == "breakdown":
        q = sorted((r[3], float(r[4])) for r in quarry_rows)
        h = sorted((r[1] or "(not set)", float(r[2])) for r in raw_rows)
        return q, h
    return [(int(r[0]), float(r[1])) for r in quarry_rows], [(int(r[0]), float(r[1])) for r in raw_rows]


def main():
    quarry, url, database, project, now, *rest = sys.argv[1:]
    rounds = int(rest[0]) if rest else 15
    print("| query | Quarry's SQL, ms | hand-written, ms | Quarry ÷ hand-written | same numbers |")
    print("|---|---:|---:|---:|---|")
    for name, (endpoint, qs) in REQUESTS.items():
        sql, params = compile_sql(quarry, endpoint, qs, project, now)
        raw = hand_written(name, project, params["param_p2"], params["param_p3"])
        tq, th = [], []
        for _ in range(2):  # warm-up
            run(url, database, sql, params)
            run(url, database, raw, {})
        for _ in range(rounds):
            rows_q, t = run(url, database, sql, params)
            tq.append(t)
            rows_h, t = run(url, database, raw, {})
            th.append(t)
        q, h = numbers(name, rows_q, rows_h)
        mq, mh = statistics.median(tq), statistics.median(th)
        print(f"| {name} | {mq:.1f} | {mh:.1f} | {mq / mh:.2f}× | {'yes' if q == h else 'NO'} |")
    print(f"\n{rounds} alternating rounds, engine `elapsed` medians; "
          f"reproduce: benches/ch_sql.py QUARRY {url} {database} {project} {now} {rounds}")


if __name__ == "__main__":
    main()
