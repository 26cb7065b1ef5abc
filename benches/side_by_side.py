#!/usr/bin/env python3
"""Quarry side by side with OpenPanel's SQL, naive SQL and hand-written SQL, in one run:
the table of issue 12 ("Faster than OpenPanel where users feel it"), every row with an
answer check. Everything runs on this machine, interleaved in rounds, medians reported.

 1. Imports: `quarry import` of N events (benches/backends_gen.py) into an empty store on
    SQLite and PostgreSQL, and of the ClickHouse data set into OpenPanel's table; with
    `--base OLD_QUARRY`, the same imports by the older binary (the ClickHouse one at N
    events, into a scratch database). PostgreSQL's own path on the same rows: `COPY`
    into the bare table, then the primary key, the two indexes and `VACUUM ANALYZE`.
 2. ClickHouse (CH_EVENTS events in OpenPanel's table, `quarry serve` with a PostgreSQL
    catalog), whole requests: a chart of 3 events (event, user, property_sum) with the
    previous period, with and without a `country` breakdown, through `quarry serve`,
    against OpenPanel's queries for the same request (its chart service runs one query
    per event and period: packages/db/src/services/chart.service.ts, `getChartSql`),
    sent one after the other to the same ClickHouse over HTTP. Wall times both.
 3. ClickHouse, single-event charts and a funnel, SQL alone: the statement Quarry
    compiles (`quarry compile`) against hand-written SQL of the same meaning; engine
    `elapsed`.
 4. ClickHouse after `quarry migrate --events-by-name`: a rare event (purchase,
    property_sum, 30 days), Quarry's SQL against an OpenPanel-style query on the plain
    table (`optimize_use_projections = 0`), engine `elapsed`; and the whole requests of
    2. again, OpenPanel's queries on the plain table.
 5. PostgreSQL in steady state: WARM requests of every kind through `quarry serve` first,
    then timed rounds against naive SQL of the same meaning (psql `\\timing`).
 6. SQLite: the same requests through `quarry serve` on the same rows, against
    PostgreSQL's time.

Every window is fixed (`startDate`/`endDate`, the 30 whole UTC days up to the data's last
day), so Quarry and the SQL it is compared with ask for the same rows. The chdb test
server runs one query at a time: OpenPanel's queries are timed one after the other (its
Node server sends them concurrently; on a real ClickHouse each query already uses every
core for its scan).

Usage: benches/side_by_side.py [--events N (1000000)] [--ch-events M (10000000)]
                               [--rounds R (9)] [--warm W (50)] [--base OLD_QUARRY]
The whole run with the defaults takes about 40 minutes here. Markdown to stdout.
Standard library only; needs curl, psql and /usr/bin/time.
"""

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ch_sql import compile_sql, run as ch_run  # noqa: E402
from export import Server, build_quarry, clean_env, generate, log, sh, start  # noqa: E402
from pg_plans import get as http_get  # noqa: E402

imports = importlib.import_module("import")  # benches/import.py

DAY = 86_400_000
DE = {"name": "country", "operator": "is", "value": ["DE"]}
THREE = [{"name": "screen_view"}, {"name": "session_start", "segment": "user"},
         {"name": "purchase", "segment": "property_sum", "property": "properties.total"}]
LIMIT = 10


def dumps(v):
    return json.dumps(v, separators=(",", ":"))


def day(ms):
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


class Window:
    """The 30 whole UTC days ending with the day of `now_ms` (and the 30 before)."""

    def __init__(self, now_ms, days=30):
        self.end = now_ms // DAY * DAY + DAY - 1
        self.start = self.end + 1 - days * DAY
        self.prev_start = self.start - days * DAY
        self.qs = f"startDate={day(self.start)}&endDate={day(self.end)}"

    def between(self, previous=False):
        s, e = (self.prev_start, self.start - 1) if previous else (self.start, self.end)
        return (f"created_at >= fromUnixTimestamp64Milli({s}) AND "
                f"created_at <= fromUnixTimestamp64Milli({e})")


def r6(v):
    return round(float(v), 6)


# --- OpenPanel's chart queries (one per event and period) ------------------------------

def openpanel_queries(w, events, breakdown):
    """getChartSql's statement for each event and period, with its windows in ms (the
    service formats them as seconds, which would drop the last second's events)."""
    out = []
    for e in events:
        name = e["name"]
        agg, extra = "count(*)", ""
        if e.get("segment") == "user":
            # OpenPanel stores the device id of an anonymous event as its profile id; here
            # it is empty, and the contract counts no user for it.
            agg = "countDistinct(nullIf(profile_id, ''))"
        elif e.get("segment") == "property_sum":
            key = e["property"].split(".", 1)[1]
            agg = f"sum(toFloat64(properties['{key}']))"
            extra = (f" AND properties['{key}'] IS NOT NULL"
                     f" AND notEmpty(properties['{key}'])")
        for previous in (False, True):
            where = (f"project_id = 'bench' AND name = '{name}' AND {w.between(previous)}"
                     + extra)
            label = ""
            if breakdown:
                label = f", {breakdown} as label_1"
                where += (f" AND ({breakdown}) IN (SELECT {breakdown} FROM events WHERE "
                          f"{where} GROUP BY {breakdown} ORDER BY count(*) DESC LIMIT {LIMIT})")
            s = w.prev_start if previous else w.start
            e_ = w.start - 1 if previous else w.end
            fill = (f"FROM toStartOfDay(fromUnixTimestamp64Milli({s})) TO "
                    f"toStartOfDay(fromUnixTimestamp64Milli({e_})) + 1 STEP toIntervalDay(1)")
            group = "date" + (", label_1" if breakdown else "")
            sql = (f"SELECT '{name}' as label_0, {agg} as count, toStartOfDay(created_at) as date"
                   f"{label} FROM events WHERE {where} GROUP BY {group} ORDER BY date ASC"
                   + ("" if breakdown else f" WITH FILL {fill}"))
            out.append((name, previous, sql))
    return out


def http_sql(url, database, sql, settings=None):
    """Rows and wall ms of one statement over ClickHouse's HTTP interface."""
    query = urllib.parse.urlencode({"database": database, **(settings or {})})
    req = urllib.request.Request(f"{url}/?{query}", data=(sql + "\nFORMAT JSONCompact").encode())
    t0 = time.perf_counter()
    with urllib.request.urlopen(req) as resp:
        body = json.loads(resp.read())
    return body["data"], (time.perf_counter() - t0) * 1000.0


def openpanel_answer(results, breakdown):
    """{(event, label, previous): [values by day]} from OpenPanel's rows."""
    out = {}
    for (name, previous, _), rows in results:
        for row in rows:
            label = (row[3] or "(not set)") if breakdown else None
            out.setdefault((name, label, previous), []).append(r6(row[1]))
    return out


def quarry_answer(body, breakdown):
    out = {}
    for s in body["series"]:
        name = s["event"]["name"]
        label = s["breakdowns"].get(breakdown) if breakdown else None
        out[(name, label, False)] = [r6(d["count"]) for d in s["data"]]
        out[(name, label, True)] = [r6(d["previous"]["value"]) for d in s["data"]
                                    if "previous" in d]
    return out


def same_whole(q, o, breakdown):
    """Every series Quarry returns equals OpenPanel's for the same event and label (with a
    breakdown: the labels both rank in their top LIMIT), as numbers per day; days without
    rows are 0 in Quarry's series and absent from OpenPanel's breakdown rows."""
    common = [k for k in q if k in o]
    if not common or (not breakdown and len(common) != len(q)):
        return False
    for k in common:
        a, b = q[k], o[k]
        if breakdown:
            a, b = sorted(v for v in a if v), sorted(b)
        if a != b:
            log(f"differs: {k}: quarry {a[:5]}…, openpanel {b[:5]}…")
            return False
    return True


def ch_whole_requests(quarry_port, headers, url, w, rounds, layout=False):
    """With `layout`, after `--events-by-name`: Quarry's server lets ClickHouse use the
    projection, and OpenPanel's queries run on OpenPanel's table as it ships
    (`optimize_use_projections = 0`)."""
    rows = []
    settings = {"optimize_use_projections": "0"} if layout else {}
    suffix = ", `--events-by-name` projection" if layout else ""
    for title, breakdown in (("3 events (event, user, property_sum) + previous period", None),
                             ("… with a `country` breakdown", "country")):
        qs = {"projectId": "bench", "events": dumps(THREE), "interval": "day",
              "previous": "true", "startDate": day(w.start), "endDate": day(w.end)}
        if breakdown:
            qs["breakdowns"] = dumps([{"name": breakdown}])
            qs["limit"] = str(LIMIT)
        path = "/export/charts?" + urllib.parse.urlencode(qs)
        queries = openpanel_queries(w, THREE, breakdown)
        tq, to = [], []
        for r in range(rounds + 2):
            first_quarry = r % 2 == 0
            if first_quarry:
                body, ms_q = http_get(quarry_port, path, headers)
            results = []
            ms_o = 0.0
            for q in queries:
                data, ms = http_sql(url, "openpanel", q[2], settings)
                results.append((q, data))
                ms_o += ms
            if not first_quarry:
                body, ms_q = http_get(quarry_port, path, headers)
            if r >= 2:  # two warm-up rounds
                tq.append(ms_q)
                to.append(ms_o)
        same = same_whole(quarry_answer(body, breakdown), openpanel_answer(results, breakdown),
                          breakdown)
        mq, mo = statistics.median(tq), statistics.median(to)
        rows.append((f"ClickHouse: {title}{suffix}",
                     f"OpenPanel: {len(queries)} queries, {mo:.0f} ms",
                     f"1 request, {mq:.0f} ms", mq / mo, same, "≤ 0.6×"))
    return rows


# --- ClickHouse single-event charts and the funnel against hand-written SQL -------------

def single_charts(w):
    """(title, endpoint, query string, hand-written SQL, how to read the numbers)."""
    base = f"project_id = 'bench' AND {w.between()}"
    sv = f"{base} AND name = 'screen_view'"
    by_day = "toStartOfDay(created_at, 'UTC')"
    hours_w = (f"project_id = 'bench' AND name = 'screen_view' AND created_at >= "
               f"fromUnixTimestamp64Milli({w.end + 1 - 7 * DAY}) AND created_at <= "
               f"fromUnixTimestamp64Milli({w.end})")
    week = f"startDate={day(w.end + 1 - 7 * DAY)}&endDate={day(w.end)}"

    def chart(cfg, extra=""):
        return f"events={dumps([cfg])}&{w.qs}&interval=day{extra}"
    return [
        ("events per day", "charts", chart({"name": "screen_view"}),
         f"SELECT {by_day} AS d, count() FROM events WHERE {sv} GROUP BY d ORDER BY d", "series"),
        ("users per day", "charts", chart({"name": "screen_view", "segment": "user"}),
         f"SELECT {by_day} AS d, uniqExact(nullif(profile_id, '')) FROM events WHERE {sv} "
         "GROUP BY d ORDER BY d", "series"),
        ("sessions per day", "charts", chart({"name": "session_start", "segment": "session"}),
         f"SELECT {by_day} AS d, uniqExact(nullif(session_id, '')) FROM events WHERE {base} "
         "AND name = 'session_start' GROUP BY d ORDER BY d", "series"),
        ("events per user per day", "charts", chart({"name": "screen_view",
                                                     "segment": "user_average"}),
         f"SELECT {by_day} AS d, countIf(profile_id != '') / uniqExact(nullif(profile_id, '')) "
         f"FROM events WHERE {sv} GROUP BY d ORDER BY d", "series"),
        ("purchase total per day", "charts", chart({"name": "purchase", "segment": "property_sum",
                                                    "property": "properties.total"}),
         f"SELECT {by_day} AS d, sum(toFloat64OrNull(properties['total'])) FROM events WHERE "
         f"{base} AND name = 'purchase' GROUP BY d ORDER BY d", "series"),
        ("users per day, country = DE", "charts",
         chart({"name": "screen_view", "segment": "user", "filters": [DE]}),
         f"SELECT {by_day} AS d, uniqExact(nullif(profile_id, '')) FROM events WHERE {sv} "
         "AND country = 'DE' GROUP BY d ORDER BY d", "series"),
        ("events per day by country (top 10)", "charts",
         chart({"name": "screen_view"}, f'&breakdowns={dumps([{"name": "country"}])}&limit=10'),
         f"SELECT {by_day} AS d, if(country = '', '(not set)', country) AS c, count() FROM events "
         f"WHERE {sv} AND country IN (SELECT country FROM events WHERE {sv} GROUP BY country "
         f"ORDER BY count() DESC, country LIMIT 10) GROUP BY d, c ORDER BY d, c", "labels"),
        ("events per hour, 7 days", "charts",
         f"events={dumps([{'name': 'screen_view'}])}&{week}&interval=hour",
         f"SELECT toStartOfHour(created_at, 'UTC') AS h, count() FROM events WHERE {hours_w} "
         "GROUP BY h ORDER BY h", "series"),
        ("funnel screen_view → sign_up → purchase", "funnel",
         f"events={dumps([{'name': n} for n in ('screen_view', 'sign_up', 'purchase')])}&{w.qs}",
         "SELECT level, count() FROM (SELECT session_id, windowFunnel(86400000, "
         "'strict_increase')(toUInt64(toUnixTimestamp64Milli(created_at)), name = 'screen_view', "
         f"name = 'sign_up', name = 'purchase') AS level FROM events WHERE {base} AND "
         "session_id != '' AND name IN ('screen_view', 'sign_up', 'purchase') GROUP BY "
         "session_id) WHERE level > 0 GROUP BY level ORDER BY level", "funnel"),
    ]


def numbers(kind, quarry_rows, hand_rows):
    """The numbers both answers must agree on: Quarry's rows are cfg, period, bucket,
    [label], value, series (funnel: level, entrants)."""
    if kind == "series":
        return [r6(r[3]) for r in quarry_rows], [r6(r[1]) for r in hand_rows]
    if kind == "labels":
        return (sorted((r[3], r6(r[4])) for r in quarry_rows),
                sorted((r[1], r6(r[2])) for r in hand_rows))
    return ([(int(r[0]), int(r[1])) for r in quarry_rows],
            [(int(r[0]), int(r[1])) for r in hand_rows])


def alternate(url, first, second, rounds):
    """Two statements (SQL, settings) in alternating order, 2 untimed rounds then
    `rounds` timed: each one's last rows and median engine `elapsed`."""
    pair = {"a": first, "b": second}
    times, rows = {"a": [], "b": []}, {}
    for r in range(rounds + 2):
        for tag in ("a", "b") if r % 2 == 0 else ("b", "a"):
            rows[tag], ms = ch_run(url, "openpanel", *pair[tag])
            if r >= 2:
                times[tag].append(ms)
    return (rows["a"], rows["b"], statistics.median(times["a"]),
            statistics.median(times["b"]))


def ch_single(quarry, url, w, now_iso, rounds):
    rows = []
    for title, endpoint, qs, hand, kind in single_charts(w):
        sql, params = compile_sql(quarry, endpoint, qs, "bench", now_iso)
        q_rows, h_rows, mq, mh = alternate(url, (sql, params), (hand, {}), rounds)
        a, b = numbers(kind, q_rows, h_rows)
        rows.append((f"ClickHouse: {title}", f"hand-written SQL, {mh:.1f} ms",
                     f"Quarry's SQL, {mq:.1f} ms", mq / mh, a == b, "≤ 1.05×"))
    return rows


def ch_rare(quarry, url, w, now_iso, rounds):
    cfg = {"name": "purchase", "segment": "property_sum", "property": "properties.total"}
    qs = f"events={dumps([cfg])}&{w.qs}&interval=day"
    sql, params = compile_sql(quarry, "charts", qs, "bench", now_iso)
    openpanel = (f"SELECT toStartOfDay(created_at) AS date, sum(toFloat64(properties['total'])) "
                 f"FROM events WHERE project_id = 'bench' AND name = 'purchase' AND "
                 f"{w.between()} AND properties['total'] IS NOT NULL AND "
                 f"notEmpty(properties['total']) GROUP BY date ORDER BY date")
    q_rows, o_rows, mq, mo = alternate(
        url, (sql, {**params, "optimize_use_projections": "1"}),
        (openpanel, {"optimize_use_projections": "0"}), rounds)
    a, b = numbers("series", q_rows, o_rows)
    return [("ClickHouse: purchase total per day, `--events-by-name` projection",
             f"OpenPanel's query on its table, {mo:.1f} ms", f"Quarry's SQL, {mq:.1f} ms",
             mq / mo, a == b, "≤ 0.2×")]


# --- PostgreSQL and SQLite through `quarry serve` against naive SQL ----------------------

def pg_requests(w):
    """(title, endpoint, query, naive SQL, how to read both answers)."""
    start = f"TIMESTAMPTZ 'epoch' + {w.start} * INTERVAL '1 ms'"
    end = f"TIMESTAMPTZ 'epoch' + {w.end} * INTERVAL '1 ms'"
    within = f"project_id = 'bench' AND created_at >= {start} AND created_at <= {end}"
    d = "to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
    sv = f"{within} AND name = 'screen_view'"
    users = "count(DISTINCT NULLIF(profile_id, ''))"
    funnel = [{"name": "screen_view", "filters": [DE]}, {"name": "sign_up"}, {"name": "purchase"}]

    def chart(cfg, extra=None):
        return {"events": dumps([cfg]), "interval": "day", "startDate": day(w.start),
                "endDate": day(w.end), **(extra or {})}
    return [
        ("users per day", "charts", chart({"name": "screen_view", "segment": "user"}),
         f"SELECT {d}, {users} FROM events WHERE {sv} GROUP BY 1 ORDER BY 1", "days"),
        ("users per day, country = DE", "charts",
         chart({"name": "screen_view", "segment": "user", "filters": [DE]}),
         f"SELECT {d}, {users} FROM events WHERE {sv} AND country = 'DE' GROUP BY 1 ORDER BY 1",
         "days"),
        ("sessions per day by country (top 10)", "charts",
         chart({"name": "session_start", "segment": "session"},
               {"breakdowns": dumps([{"name": "country"}]), "limit": "10"}),
         f"SELECT {d}, CASE WHEN country = '' THEN '(not set)' ELSE country END, "
         f"count(DISTINCT NULLIF(session_id, '')) FROM events WHERE {within} AND "
         f"name = 'session_start' AND country IN (SELECT country FROM events WHERE {within} AND "
         f"name = 'session_start' GROUP BY country ORDER BY count(DISTINCT NULLIF(session_id, "
         f"'')) DESC, country LIMIT 10) GROUP BY 1, 2 ORDER BY 1, 2", "labels"),
        ("one event per user per day", "charts",
         chart({"name": "screen_view", "segment": "one_event_per_user"}),
         f"SELECT {d}, count(*) FROM (SELECT DISTINCT ON (profile_id) profile_id, created_at "
         f"FROM events WHERE {sv} AND profile_id <> '' ORDER BY profile_id, created_at DESC, "
         f"id DESC) t GROUP BY 1 ORDER BY 1", "days"),
        ("funnel screen_view (DE) → sign_up → purchase", "funnel",
         {"events": dumps(funnel), "startDate": day(w.start), "endDate": day(w.end)},
         # Each session's first step-1 event starts its chain, then the first step 2
         # after it, then the first step 3 after that, within 24 hours of the start: the
         # contract lets any step-1 event start a chain (same counts on this data, whose
         # sessions last minutes).
         f"WITH f AS (SELECT session_id, min(created_at) AS t1 FROM events WHERE {sv} AND "
         "country = 'DE' AND session_id <> '' GROUP BY 1), "
         "s AS (SELECT f.session_id, f.t1, min(e.created_at) AS t2 FROM f JOIN events e ON "
         f"e.session_id = f.session_id AND {within.replace('created_at', 'e.created_at')} "
         "AND e.name = 'sign_up' AND e.created_at > f.t1 AND e.created_at <= f.t1 + "
         "INTERVAL '24 hours' GROUP BY 1, 2), "
         "t AS (SELECT DISTINCT s.session_id FROM s JOIN events e ON e.session_id = "
         f"s.session_id AND {within.replace('created_at', 'e.created_at')} AND e.name = "
         "'purchase' AND e.created_at > s.t2 AND e.created_at <= s.t1 + INTERVAL '24 hours') "
         "SELECT 'steps', (SELECT count(*) FROM f) || ',' || (SELECT count(*) FROM s) || ',' "
         "|| (SELECT count(*) FROM t)",
         "funnel"),
    ]


def psql_rows(url, sql):
    out = sh("psql", "-X", "-q", "-A", "-t", url, "-c", "\\timing on", "-c", sql,
             capture_output=True, text=True).stdout
    ms = float(out.rsplit("Time: ", 1)[1].split(" ms")[0])
    return [line.split("|") for line in out.splitlines() if "|" in line], ms


def served_numbers(kind, body):
    if kind == "funnel":
        return [s["count"] for s in body["steps"]]
    out = {}
    for s in body["series"]:
        label = s["breakdowns"].get("country") if kind == "labels" else None
        for d in s["data"]:
            if d["count"]:
                out[(d["date"][:10], label)] = r6(d["count"])
    return out


def naive_numbers(kind, rows):
    if kind == "funnel":
        return [int(n) for n in rows[0][1].split(",")]
    if kind == "labels":
        return {(r[0], r[1]): r6(r[2]) for r in rows if float(r[2])}
    return {(r[0], None): r6(r[1]) for r in rows if float(r[1])}


def pg_and_sqlite(ports, hdrs, pg_url, w, rounds, warm):
    reqs = pg_requests(w)
    pg_port, sqlite_port = ports["pg"], ports["sqlite"]
    paths = {t: f"/export/{ep}?" + urllib.parse.urlencode({"projectId": "bench", **q})
             for t, ep, q, _, _ in reqs}
    log(f"PostgreSQL and SQLite: {warm} requests of each kind first")
    for _ in range(warm):
        for p in paths.values():
            http_get(pg_port, p, hdrs["pg"])
    for _ in range(2):
        for p in paths.values():
            http_get(sqlite_port, p, hdrs["sqlite"])
    pg_rows, lite_rows = [], []
    for title, _, _, naive, kind in reqs:
        tq, tn, tl = [], [], []
        for r in range(rounds):
            steps = ["q", "n", "l"] if r % 2 == 0 else ["l", "n", "q"]
            for s in steps:
                if s == "q":
                    body, ms = http_get(pg_port, paths[title], hdrs["pg"])
                    tq.append(ms)
                elif s == "n":
                    rows, ms = psql_rows(pg_url, naive)
                    tn.append(ms)
                else:
                    lite, ms = http_get(sqlite_port, paths[title], hdrs["sqlite"])
                    tl.append(ms)
        a, b = served_numbers(kind, body), naive_numbers(kind, rows)
        if kind == "labels":  # the labels both rank in their top 10
            a = {k: v for k, v in a.items() if any(k[1] == kb[1] for kb in b)}
            b = {k: v for k, v in b.items() if any(k[1] == ka[1] for ka in a)}
        same = bool(a) and a == b
        if not same:
            log(f"{title}: Quarry and the naive SQL differ")
        mq, mn, ml = (statistics.median(x) for x in (tq, tn, tl))
        pg_rows.append((f"PostgreSQL, after {warm} requests: {title}", f"naive SQL, {mn:.0f} ms",
                        f"`quarry serve`, {mq:.0f} ms", mq / mn, same, "≤ 0.8×"))
        lite_rows.append((f"SQLite: {title}", f"PostgreSQL through Quarry, {mq:.0f} ms",
                          f"SQLite through Quarry, {ml:.0f} ms", ml / mq,
                          served_numbers(kind, lite) == served_numbers(kind, body), "≤ 1.2×"))
    return pg_rows + lite_rows


# --- imports ----------------------------------------------------------------------------

def timed_import(binary, data, env, work):
    secs, kb = imports.timed_import(binary, data, env, work)
    log(f"import {os.path.basename(data)} by {binary}: {secs:.1f} s, {kb / 1024:.0f} MiB")
    return secs, kb


def copy_path(env, pg_url, work):
    """PostgreSQL's own bulk path for the rows Quarry imported into `pg_url`: seconds."""
    dump = os.path.join(work, "events.copy")
    with open(dump, "w") as f:
        sh("psql", "-X", "-q", pg_url, "-c", "COPY events TO STDOUT", stdout=f)
    base = env["DATABASE_URL"]
    imports.psql(base, "CREATE DATABASE copybase TEMPLATE bench")
    url = pg_url.rsplit("/", 1)[0] + "/copybase"
    indexes = imports.bare_events(url)
    t0 = time.perf_counter()
    with open(dump) as f:
        sh("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", "COPY events FROM STDIN",
           stdin=f)
    imports.psql(url, "ALTER TABLE events ADD PRIMARY KEY (id)", *indexes,
                 "VACUUM ANALYZE events")
    secs = time.perf_counter() - t0
    imports.psql(base, "DROP DATABASE copybase")
    os.remove(dump)
    return secs


def setup_store(quarry, env):
    """The project `bench` and a read client in a store's catalog: its headers."""
    sh(quarry, "projects", "create", "bench", "--organization", "o", env=env,
       stdout=subprocess.DEVNULL)
    creds = json.loads(sh(quarry, "clients", "create", "--type", "read", "--project", "bench",
                          env=env, capture_output=True, text=True).stdout)
    return {"openpanel-client-id": creds["id"], "openpanel-client-secret": creds["secret"]}


def print_table(rows, header):
    print(header)
    print("| request | compared with | Quarry | ratio | same answer | target | met |")
    print("|---|---|---|---:|---|---|---|")
    for title, other, ours, ratio, same, target in rows:
        limit = float(target.split()[1].rstrip("×"))
        met = "yes" if ratio <= limit else "no"
        print(f"| {title} | {other} | {ours} | {ratio:.2f}× | {'yes' if same else 'NO'} "
              f"| {target} | {met} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--ch-events", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--warm", type=int, default=50)
    ap.add_argument("--base", help="an older quarry binary: import rates against it")
    args = ap.parse_args()
    quarry, rev = build_quarry()
    work = tempfile.mkdtemp(prefix="quarry-side-by-side.")
    env = clean_env()
    started, servers = {}, []
    try:
        data = os.path.join(work, "events.ndjson")
        ch_data = os.path.join(work, "ch-events.ndjson")
        now_ms = generate(args.events, data)
        if args.ch_events != args.events:
            generate(args.ch_events, ch_data)
        else:
            ch_data = data
        w = Window(now_ms)
        now_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_ms / 1000))
        started["pg"] = start("start-postgres.sh", env)
        env.update(started["pg"])
        started["ch"] = start("start-clickhouse.sh", env)
        env.update(started["ch"])
        pg_base = env["DATABASE_URL"].rsplit("/", 1)[0]
        imports.psql(env["DATABASE_URL"], "CREATE DATABASE bench", "CREATE DATABASE catalog")
        common = {**env, "RUST_LOG": "error", "QUARRY_RATE_LIMIT": "off"}
        shapes = {
            "sqlite": {**common, "QUARRY_DATABASE_URL": f"sqlite://{work}/main.db"},
            "pg": {**common, "QUARRY_DATABASE_URL": f"{pg_base}/bench"},
            "ch": {**common, "QUARRY_DATABASE_URL": f"{pg_base}/catalog",
                   "QUARRY_CLICKHOUSE_URL": env["CLICKHOUSE_URL"],
                   "QUARRY_CLICKHOUSE_DATABASE": "openpanel"},
        }

        # 1. Imports.
        imported = {}
        for b, benv in shapes.items():
            imported[b] = timed_import(quarry, ch_data if b == "ch" else data, benv, work)
        copy_secs = copy_path(env, f"{pg_base}/bench", work)
        base_rates = {}
        if args.base:
            stores = imports.Stores(env, work)
            for b in shapes:
                extra, name = stores.fresh(b)
                base_secs, _ = timed_import(args.base, data, {**common, **extra}, work)
                if b == "ch":  # this build at the same size, for a rate at equal size
                    stores.drop(b, name)
                    extra, name = stores.fresh(b)
                    ours, _ = timed_import(quarry, data, {**common, **extra}, work)
                else:
                    ours = imported[b][0]
                base_rates[b] = (base_secs, ours)
                stores.drop(b, name)

        # A read client per store (each store has its own catalog).
        ports, hdrs = {}, {}
        for b, benv in shapes.items():
            hdrs[b] = setup_store(quarry, benv)
            srv = Server(quarry, benv, work, b)
            servers.append(srv)
            ports[b] = srv.port

        # 2.–4. ClickHouse.
        url = env["CLICKHOUSE_URL"]
        log("ClickHouse: whole requests against OpenPanel's queries")
        rows = ch_whole_requests(ports["ch"], hdrs["ch"], url, w, args.rounds)
        log("ClickHouse: single-event charts and the funnel against hand-written SQL")
        rows += ch_single(quarry, url, w, now_iso, args.rounds)
        log("ClickHouse: adding the --events-by-name projection")
        t0 = time.perf_counter()
        sh(quarry, "migrate", "--events-by-name", env=shapes["ch"], stdout=subprocess.DEVNULL)
        projection_secs = time.perf_counter() - t0
        rows += ch_rare(quarry, url, w, now_iso, args.rounds)
        log("ClickHouse: whole requests with the projection")
        rows += ch_whole_requests(ports["ch"], hdrs["ch"], url, w, args.rounds, layout=True)

        # 5.–6. PostgreSQL and SQLite.
        rows += pg_and_sqlite(ports, hdrs, f"{pg_base}/bench", w, args.rounds, args.warm)

        print(f"\nCommit {rev}; {args.events} events on SQLite and PostgreSQL, "
              f"{args.ch_events} in ClickHouse (OpenPanel's table); windows "
              f"{day(w.start)} – {day(w.end)} (previous: from {day(w.prev_start)}); "
              f"{args.rounds} interleaved rounds after 2 untimed, medians; {os.cpu_count()} "
              f"cores; {time.strftime('%Y-%m-%d', time.gmtime())}.\nReproduce: "
              f"benches/side_by_side.py --events {args.events} --ch-events {args.ch_events} "
              f"--rounds {args.rounds} --warm {args.warm}"
              + (" --base OLD_QUARRY" if args.base else "") + "\n")
        print_table(rows, "")
        print("\n| import | `quarry import` | events/s | peak RSS, MiB | compared with | ratio "
              "| target |")
        print("|---|---:|---:|---:|---|---:|---|")
        n = {"sqlite": args.events, "pg": args.events, "ch": args.ch_events}
        names = {"sqlite": "SQLite", "pg": "PostgreSQL", "ch": "ClickHouse"}
        for b, (secs, kb) in imported.items():
            other, ratio, target = "—", "—", "—"
            if b == "pg":
                other, ratio = f"COPY + indexes + VACUUM ANALYZE, {copy_secs:.1f} s", \
                    f"{secs / copy_secs:.2f}×"
                target = "≤ 2×: " + ("met" if secs / copy_secs <= 2 else "not met")
            if b in base_rates:
                bs, ours = base_rates[b]
                want = 4 if b == "sqlite" else 2
                extra = f"base binary, {args.events} events: {bs:.1f} s against {ours:.1f} s"
                other = extra if other == "—" else f"{other}; {extra}"
                if b != "pg":
                    ratio = f"{bs / ours:.2f}× faster"
                    target = f"≥ {want}× faster: " + ("met" if bs / ours >= want else "not met")
            print(f"| {names[b]}, {n[b]} events | {secs:.1f} s | {n[b] / secs:,.0f} | "
                  f"{kb / 1024:.0f} | {other} | {ratio} | {target} |")
        print(f"\n`quarry migrate --events-by-name` on {args.ch_events} events: "
              f"{projection_secs:.1f} s.")
    finally:
        for s in servers:
            s.stop()
        imports.stop_databases(started, env)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
