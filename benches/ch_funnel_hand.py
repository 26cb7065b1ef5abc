#!/usr/bin/env python3
"""Every ClickHouse statement of the funnel options against hand-written SQL of the same
meaning (issue 14: at most 1.2× its time).

Usage: benches/ch_funnel_hand.py QUARRY [--events N (1000000)] [--rounds R (15)]
       benches/ch_funnel_hand.py QUARRY --clickhouse URL --now RFC3339 [--rounds R]

QUARRY is a `quarry` binary (only `quarry compile` is run, so a debug build does). Without
`--clickhouse`, N events of project `bench` (benches/backends_gen.py) are imported into a
ClickHouse test server started for the run; with it, project `bench` of database
`openpanel` there is used as it is, with NOW the time its data ends at.

For each request kind of benches/funnel_options.py (the funnel screen_view → sign_up →
purchase over `range=30d`, one option at a time), each statement `quarry compile` gives is
paired with a query written by hand for that statement's meaning alone, as someone who
knows ClickHouse would write it for this one funnel: `windowFunnel` where its meaning is
§7's; otherwise each session's events as one sorted array, with the chain conditions as
`arrayExists` over it, and the arrays built only for sessions with a step-2 event where that
can be known from the aggregate (the faster of the two ways, measured). Each hand-written
query returns the columns of the statement it stands beside, so the two answers are
compared row for row. The plain `windowFunnel` query of the plain funnel (a different,
cheaper meaning for most kinds) is timed in the same rounds as a scale.

Each round sends every statement of a kind, its hand-written twin and the scale, in
rotating order, after two untimed rounds; medians of the engine's own `elapsed`.
Standard library only. Markdown to stdout.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ch_sql import hand_written, run  # noqa: E402
from export import clean_env, clickhouse_with_events, head_commit, log, rotating, stop_all  # noqa: E402
from funnel_options import KINDS, query  # noqa: E402

W = 86_400_000  # the funnel window, ms (funnelWindow=24)
HOUR = 3_600_000
STEP = ("multiIf(name = 'screen_view', 1, name = 'sign_up', 2, name = 'purchase', 3, "
        "name = 'session_end', 4, 0)")
NAMES = "'screen_view', 'sign_up', 'purchase'"
EDGES = [1000, 10000, 60000, 300000, 900000, 3600000, 14400000, 43200000]
NOT_SET = "if(country = '', '(not set)', country)"


def scan(start, end, names=NAMES):
    where = (f"project_id = 'bench' AND created_at >= fromUnixTimestamp64Milli({start}) "
             f"AND created_at <= fromUnixTimestamp64Milli({end}) AND session_id != ''")
    return where + (f" AND name IN ({names})" if names else "")


def window_funnel(cond1="name = 'screen_view'", cond2="name = 'sign_up'"):
    return (f"windowFunnel({W}, 'strict_increase')(toUInt64(toUnixTimestamp64Milli(created_at)), "
            f"{cond1}, {cond2}, name = 'purchase')")


def plain(b, names=NAMES, cond2="name = 'sign_up'"):
    """§7's levels: (level, entrants)."""
    return (f"SELECT level, toFloat64(count()) AS entrants FROM (SELECT "
            f"{window_funnel(cond2=cond2)} AS level FROM events WHERE {scan(b['start'], b['end'], names)} "
            f"GROUP BY session_id) WHERE level > 0 GROUP BY level ORDER BY level")


def any_of(b):
    return plain(b, NAMES + ", 'session_start'", "name IN ('sign_up', 'session_start')")


def interval_day(b):
    """§7's levels per entry day: (level, open, bucket, entrants)."""
    return (f"SELECT level, 0 AS open, intDiv(entry - {b['start']}, 86400000) AS bucket, "
            f"toFloat64(count()) AS entrants FROM (SELECT {window_funnel()} AS level, "
            f"minIf(toUnixTimestamp64Milli(created_at), name = 'screen_view') AS entry "
            f"FROM events WHERE {scan(b['start'], b['end'])} GROUP BY session_id) "
            f"WHERE level > 0 GROUP BY level, open, bucket ORDER BY level, open, bucket")


def entry_range(b):
    """Step 1 in the range, later steps up to a window past it; open: the entrant has a
    chain of its level that started within a window of now."""
    end = b["end"] - W
    first = f"name = 'screen_view' AND created_at <= fromUnixTimestamp64Milli({end})"
    late = f"{first} AND created_at >= fromUnixTimestamp64Milli({b['now'] - W})"
    return (f"SELECT level, if(level < 3 AND late >= level, 1, 0) AS open, 0 AS bucket, "
            f"toFloat64(count()) AS entrants FROM (SELECT {window_funnel(first)} AS level, "
            f"{window_funnel(late)} AS late FROM events WHERE {scan(b['start'], b['end'])} "
            f"GROUP BY session_id) WHERE level > 0 GROUP BY level, open, bucket "
            f"ORDER BY level, open, bucket")


def arrays(b, level, names=NAMES, gate=True):
    """Levels from each session's sorted events `ev` (t, s: times and step numbers);
    `level` may use `has1` (the session has a step-1 event)."""
    ev = f"arraySort(groupArray((toUnixTimestamp64Milli(created_at), {STEP})))"
    if gate:
        ev = f"if(countIf(name = 'sign_up') > 0, {ev}, [])"
    return (f"SELECT level, 0 AS open, 0 AS bucket, toFloat64(count()) AS entrants FROM ("
            f"SELECT {ev} AS ev, arrayMap(x -> x.1, ev) AS t, arrayMap(x -> x.2, ev) AS s, "
            f"countIf(name = 'screen_view') > 0 AS has1, {level} AS level "
            f"FROM events WHERE {scan(b['start'], b['end'], names)} GROUP BY session_id) "
            f"WHERE level > 0 GROUP BY level, open, bucket ORDER BY level, open, bucket")


def strict(b):
    """Consecutive events of the session, each alone at its millisecond."""
    i = "arrayEnumerate(t)"
    u = f"arrayMap(i -> t[i] != t[i - 1] AND t[i] != t[i + 1], {i})"
    level = (f"multiIf(arrayExists(i -> s[i] = 1 AND s[i + 1] = 2 AND s[i + 2] = 3 AND u[i] AND "
             f"u[i + 1] AND u[i + 2] AND t[i + 2] - t[i] <= {W}, {i}), 3, "
             f"arrayExists(i -> s[i] = 1 AND s[i + 1] = 2 AND u[i] AND u[i + 1] AND "
             f"t[i + 1] - t[i] <= {W}, {i}), 2, has1, 1, 0)")
    return arrays(b, f"({u} AS u, {level}).2", names=None)


def any_order(b):
    """The largest prefix of steps all present within one window, from any event on."""
    within = lambda k: f"arrayExists((x, sx) -> sx = {k} AND x >= a AND x <= a + {W}, t, s)"  # noqa: E731
    level = (f"arrayMax(arrayMap(a -> multiIf({within(1)} AND {within(2)} AND {within(3)}, 3, "
             f"{within(1)} AND {within(2)}, 2, {within(1)}, 1, 0), t))")
    return arrays(b, level, gate=False)


def chains(b, extra2="", extra3=""):
    """Ordered chains as nested `arrayExists`; extra conditions on (t1, t2) and (t1, t3)."""
    l2 = (f"arrayExists((t2, s2) -> s2 = 2 AND arrayExists((t1, s1) -> s1 = 1 AND t1 < t2 AND "
          f"t2 - t1 <= {W}{extra2}, t, s), t, s)")
    l3 = (f"arrayExists((t3, s3) -> s3 = 3 AND arrayExists((t2, s2) -> s2 = 2 AND t2 < t3 AND "
          f"arrayExists((t1, s1) -> s1 = 1 AND t1 < t2 AND t3 - t1 <= {W}{extra2}{extra3}, t, s), "
          f"t, s), t, s)")
    return f"multiIf({l3}, 3, {l2}, 2, has1, 1, 0)"


def step_window(b):
    return arrays(b, chains(b, extra2=f" AND t2 - t1 <= {HOUR}"))


def exclusion(b):
    def clear(a, z):
        return f" AND NOT arrayExists((x, sx) -> sx = 4 AND x >= {a} AND x <= {z}, t, s)"
    level = chains(b, extra2=clear("t1", "t2"), extra3=clear("t1", "t3"))
    return arrays(b, level, names=NAMES + ", 'session_end'")


def first_completions(b):
    """Each session's first completion of steps 1–3 (0: none), ordered chains."""
    f2 = (f"arrayMin(arrayFilter((t2, s2) -> s2 = 2 AND arrayExists((t1, s1) -> s1 = 1 AND "
          f"t1 < t2 AND t2 - t1 <= {W}, t, s), t, s))")
    f3 = (f"arrayMin(arrayFilter((t3, s3) -> s3 = 3 AND arrayExists((t2, s2) -> s2 = 2 AND "
          f"t2 < t3 AND arrayExists((t1, s1) -> s1 = 1 AND t1 < t2 AND t3 - t1 <= {W}, t, s), t, s), "
          f"t, s))")
    ev = (f"if(countIf(name = 'sign_up') > 0, "
          f"arraySort(groupArray((toUnixTimestamp64Milli(created_at), {STEP}))), [])")
    return (f"SELECT {ev} AS ev, arrayMap(x -> x.1, ev) AS t, arrayMap(x -> x.2, ev) AS s, "
            f"arrayMin(arrayFilter((t1, s1) -> s1 = 1, t, s)) AS f1, {f2} AS f2, {f3} AS f3 "
            f"FROM events WHERE {scan(b['start'], b['end'])} GROUP BY session_id")


def time_to_convert(b):
    """(step, entrants, total, median, p90, histogram…): nearest ranks of F(k) − F(k−1)."""
    bounds = [0] + EDGES + [None]
    hist = ", ".join(
        f"toFloat64(countIf(d >= {lo}" + (f" AND d < {hi}))" if hi is not None else "))")
        + f" AS h{i}" for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])))
    names = ", ".join(f"h{i}" for i in range(len(bounds) - 1))
    return (f"SELECT step, n, total, ds[intDiv(toUInt64(n) + 1, 2)] AS median, "
            f"ds[intDiv(9 * toUInt64(n) + 9, 10)] AS p90, {names} FROM ("
            f"SELECT step, toFloat64(count()) AS n, toFloat64(sum(d)) AS total, "
            f"arraySort(groupArray(d)) AS ds, {hist} FROM ("
            f"SELECT x.1 AS step, x.2 AS d FROM ({first_completions(b)}) "
            f"ARRAY JOIN [(2, f2 - f1, f2 > 0), (3, f3 - f2, f3 > 0)] AS x WHERE x.3) "
            f"GROUP BY step) ORDER BY step")


def breakdown(b):
    """Country of each entrant's first completion of its level (smallest at a tie), top 10
    by entrants, the rest as group 0: (grp, u0, level, open, total, entrants)."""
    v1 = "arrayFirst(x -> x.3 = 1, ev).2"
    v2 = (f"arrayFirst(x -> x.3 = 2 AND arrayExists(y -> y.3 = 1 AND y.1 < x.1 AND "
          f"x.1 - y.1 <= {W}, ev), ev).2")
    v3 = (f"arrayFirst(x -> x.3 = 3 AND arrayExists(y -> y.3 = 2 AND y.1 < x.1 AND "
          f"arrayExists(z -> z.3 = 1 AND z.1 < y.1 AND x.1 - z.1 <= {W}, ev), ev), ev).2")
    return (f"SELECT if(rk <= 10, rk, 0) AS grp, if(rk <= 10, v, '') AS u0, level, 0 AS open, "
            f"max(total) AS total, sum(n) AS entrants FROM ("
            f"SELECT *, max(rk) OVER () AS total FROM ("
            f"SELECT v, level, n, dense_rank() OVER (ORDER BY size DESC, v) AS rk FROM ("
            f"SELECT v, level, toFloat64(count()) AS n, sum(toFloat64(count())) OVER (PARTITION BY v) AS size "
            f"FROM (SELECT {window_funnel()} AS level, "
            f"arraySort(groupArray((toUnixTimestamp64Milli(created_at), {NOT_SET}, {STEP}))) AS ev, "
            f"multiIf(level = 3, {v3}, level = 2, {v2}, {v1}) AS v "
            f"FROM events WHERE {scan(b['start'], b['end'])} GROUP BY session_id HAVING level > 0) "
            f"GROUP BY v, level))) GROUP BY grp, u0, level, open ORDER BY grp, level, open")


# Per request kind, the hand-written twin of each of Quarry's statements, in order.
HAND = {
    "plain (§7)": [plain],
    "funnelOrder=strict": [strict],
    "funnelOrder=any": [any_order],
    "step 2 is anyOf sign_up, session_start": [any_of],
    "step 2 window 1 h": [step_window],
    "exclusion session_end from 1 to 3": [exclusion],
    "funnelRange=entry": [entry_range],
    "previous=true": [plain, plain],
    "interval=day": [interval_day],
    "timeToConvert=true": [plain, time_to_convert],
    "step 2 window 24 h (= the funnel window: §7's meaning, and statement)": [plain],
    "breakdowns country, attribution last": [plain, breakdown],
}


def statements(quarry, qs, now):
    """Every statement `quarry compile` prints for a funnel request, with its parameters."""
    out = subprocess.run([quarry, "compile", "--dialect", "clickhouse", "--endpoint", "funnel",
                          "--project", "bench", "--now", now, qs],
                         check=True, capture_output=True, text=True).stdout
    parts = re.split(r"(?m)^-- params\n((?:-- \d+: .*\n?)*)", out)
    found = []
    for sql, tail in zip(parts[0::2], parts[1::2]):
        params = {}
        for m in re.finditer(r"^-- (\d+): (\w+)\((.*)\)$", tail, re.M):
            n, kind, raw = m.groups()
            value = (json.loads(raw) if kind == "Text" else
                     raw.rsplit("= ", 1)[1] if kind == "Timestamp" else raw)
            params[f"param_p{n}"] = value
        found.append((sql.strip(), params))
    return found


def normal(rows):
    """Rows with every cell as a number where it is one, sorted: the two forms' types
    differ (Float64 against UInt64, quoted or not), their values may not."""
    def cell(x):
        try:
            return round(float(x), 6)
        except (TypeError, ValueError):
            return x
    return sorted(tuple(cell(x) for x in r) for r in rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("quarry")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--clickhouse", help="a ClickHouse already holding project `bench`")
    ap.add_argument("--now", help="with --clickhouse: where its data ends (RFC 3339)")
    args = ap.parse_args()
    env = clean_env()
    work = tempfile.mkdtemp(prefix="quarry-ch-funnel-hand.")
    started = {}
    try:
        if args.clickhouse:
            url, now, events = args.clickhouse, args.now, "Project `bench`'s"
        else:
            url, now = clickhouse_with_events(args.quarry, args.events, env, work, started)
            events = args.events
        now_ms = int(subprocess.run(["date", "-u", "-d", now, "+%s"], check=True,
                                    capture_output=True, text=True).stdout) * 1000
        rows = []
        for label, steps, extra in KINDS:
            if label not in HAND:
                continue
            found = statements(args.quarry, query(steps, extra), now)
            if len(found) != len(HAND[label]):
                raise SystemExit(f"{label}: {len(found)} statements, {len(HAND[label])} twins")
            cases = []
            for i, ((sql, params), twin) in enumerate(zip(found, HAND[label])):
                bounds = {"start": int(params["param_p2"]), "end": int(params["param_p3"]),
                          "now": now_ms}
                cases += [(("q", i), sql, params), (("h", i), twin(bounds), {})]
            first = found[0][1]
            cases.append((("scale", 0), hand_written("funnel", "bench", first["param_p2"],
                                                     first["param_p3"]), {}))
            med, raw = rotating(cases, args.rounds, lambda c: run(url, "openpanel", c[1], c[2]))
            answers = {key: normal(rows) for key, rows in raw.items()}
            for i, twin in enumerate(HAND[label]):
                same = answers[("q", i)] == answers[("h", i)]
                rows.append((label, i + 1, twin.__name__, med[("q", i)], med[("h", i)],
                             med[("scale", 0)], same))
            log(f"{label}: timed")
        source = (f"--clickhouse URL --now {now}" if args.clickhouse else f"--events {args.events}")
        print(f"\n{events} events, commit {head_commit()}; 2 untimed and {args.rounds} timed "
              f"rounds in rotating order; medians of ClickHouse's `elapsed`, ms. Reproduce: "
              f"benches/ch_funnel_hand.py QUARRY {source} --rounds {args.rounds}\n")
        print("| request | statement | hand-written form | Quarry, ms | hand-written, ms "
              "| Quarry ÷ hand-written | same rows | plain `windowFunnel`, ms | Quarry ÷ plain |")
        print("|---|---:|---|---:|---:|---:|---|---:|---:|")
        for label, n, form, q, h, scale, same in rows:
            print(f"| {label} | {n} | `{form}` | {q:.1f} | {h:.1f} | {q / h:.2f} | "
                  f"{'yes' if same else 'NO'} | {scale:.1f} | {q / scale:.2f} |")
    finally:
        stop_all([], started, env, work)


if __name__ == "__main__":
    main()
