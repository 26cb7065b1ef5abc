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
§7's (times packed as ms × 4 + a step code, so that a later step never follows an
earlier one of its own millisecond); otherwise each session's events as one sorted
UInt64 array, `(t << 2) | code`, the codes ordering a millisecond's steps backwards (and
`session_end` first) so that a forward fill sees only earlier milliseconds' steps, with
the chain conditions as `arrayMap`/`arrayExists` over the array and its fills, and the
array built only for sessions with a step-1 and a step-2 event. These are the fastest
forms found (by a review that tried packing, `arrayFold`, gating, `windowFunnel`
permutations and window functions; docs/performance.md). Each hand-written query returns
the columns of the statement it stands beside, so the two answers are compared row for
row. The plain `windowFunnel` query of the plain funnel (a different, cheaper meaning for
most kinds) is timed in the same rounds as a scale.

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
NAMES = "'screen_view', 'sign_up', 'purchase'"
EDGES = [1000, 10000, 60000, 300000, 900000, 3600000, 14400000, 43200000]
NOT_SET = "if(country = '', '(not set)', country)"


def scan(start, end, names=NAMES):
    where = (f"project_id = 'bench' AND created_at >= fromUnixTimestamp64Milli({start}) "
             f"AND created_at <= fromUnixTimestamp64Milli({end}) AND session_id != ''")
    return where + (f" AND name IN ({names})" if names else "")


def window_funnel(cond1="name = 'screen_view'", cond2="name = 'sign_up'"):
    """§7's level. Times are ms × 4 plus 3 − the step, so that within one millisecond the
    later steps come first and never follow an earlier step of the same millisecond
    (`strict_increase` alone lets a step-1 event of a chain's step-2 millisecond replace
    the chain's start, and the chain is lost)."""
    step = f"multiIf({cond1}, 3, {cond2}, 2, 1)"
    return (f"windowFunnel({4 * W}, 'strict_increase')("
            f"toUInt64(toUnixTimestamp64Milli(created_at) * 4 + {step}), "
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


def _t(x):
    return f"bitShiftRight({x}, 2)"


def _c(x):
    return f"bitAnd({x}, 3)"


def packed(b, code):
    return f"bitShiftLeft(toUInt64(toUnixTimestamp64Milli(created_at) - {b['start'] - 1}), 2) + {code}"


REV = "multiIf(name = 'screen_view', 3, name = 'sign_up', 2, name = 'purchase', 1, 0)"
BITS = ("groupBitOr(multiIf(name = 'screen_view', 1, name = 'sign_up', 2, name = 'purchase', 4, "
        "name = 'session_end', 8, 0))")


def gated(b, level, names=NAMES, extra=""):
    """Levels from `a` (sorted packed events, only for sessions with steps 1 and 2) and
    `bits` (the steps a session has)."""
    return (f"SELECT level, 0 AS open, 0 AS bucket, toFloat64(count()) AS entrants FROM ("
            f"SELECT {BITS} AS bits, if(bitAnd(bits, 3) = 3, arraySort(groupArray({packed(b, REV)})), []) "
            f"AS a{extra}, {level} AS level FROM events WHERE {scan(b['start'], b['end'], names)} "
            f"GROUP BY session_id) WHERE level > 0 GROUP BY level, open, bucket "
            f"ORDER BY level, open, bucket")


def fill_code(k, a="a"):
    return f"arrayFill(v -> v > 0, arrayMap(x -> if({_c('x')} = {k}, {_t('x')}, 0), {a}))"


def ordered_level(l2, l3):
    return f"multiIf({l3}, 3, {l2}, 2, bitTest(bits, 0), 1, 0)"


def step_window(b):
    c2 = (f"arrayMap((x, s) -> if({_c('x')} = 2 AND s > 0 AND {_t('x')} <= s + {HOUR}, s, 0), "
          f"a, {fill_code(3)})")
    l3 = (f"arrayExists((x, s) -> {_c('x')} = 1 AND s > 0 AND {_t('x')} <= s + {W}, a, "
          f"arrayFill(v -> v > 0, c2))")
    return gated(b, ordered_level("arrayExists(v -> v > 0, c2)", l3), extra=f", {c2} AS c2")


def exclusion(b):
    # session_end is code 0: first in its millisecond, so xe (the latest session_end at or
    # before an event's millisecond) sees one at the same millisecond. A chain start s is
    # valid for an end e when no session_end is in [s, t(e)]: xe(e) < s.
    xe = f"arrayFill(v -> v > 0, arrayMap(x -> if({_c('x')} = 0, {_t('x')}, 0), a))"
    c2 = (f"arrayMap((x, s, e) -> if({_c('x')} = 2 AND s > e AND {_t('x')} <= s + {W}, s, 0), "
          f"a, {fill_code(3)}, xe)")
    l3 = (f"arrayExists((x, s, e) -> {_c('x')} = 1 AND s > e AND {_t('x')} <= s + {W}, a, "
          f"arrayFill(v -> v > 0, c2), xe)")
    return gated(b, ordered_level("arrayExists(v -> v > 0, c2)", l3),
                 names=NAMES + ", 'session_end'", extra=f", {xe} AS xe, {c2} AS c2")


def strict(b):
    # all events (any name intervenes); code 0 for other names; neighbours by shifts.
    t, c = _t, _c
    lam = (f"(p, x, y, z, w) -> if({c('x')} = 3 AND {c('y')} = 2 AND {t('p')} != {t('x')} AND "
           f"{t('x')} != {t('y')} AND {t('y')} != {t('z')} AND {t('y')} <= {t('x')} + {W}, "
           f"if({c('z')} = 1 AND {t('z')} != {t('w')} AND {t('z')} <= {t('x')} + {W}, 3, 2), 0)")
    lv = (f"arrayMax(arrayMap({lam}, arrayShiftRight(a, 1, 0), a, arrayShiftLeft(a, 1, 0), "
          f"arrayShiftLeft(a, 2, 0), arrayShiftLeft(a, 3, 0)))")
    return gated(b, f"if(bitAnd(bits, 3) = 3, greatest({lv}, bitTest(bits, 0)), bitTest(bits, 0))", names=None)


def any_order(b):
    def n(k):
        return f"arrayReverseFill(v -> v > 0, arrayMap(x -> if({_c('x')} = {k}, {_t('x')}, 0), a))"
    within = lambda v: f"{v} > 0 AND {v} <= {_t('x')} + {W}"  # noqa: E731
    lam = f"(x, n1, n2, n3) -> if({within('n1')} AND {within('n2')}, if({within('n3')}, 3, 2), 0)"
    lv = f"arrayMax(arrayMap({lam}, a, {n(3)}, {n(2)}, {n(1)}))"
    return gated(b, f"if(bitAnd(bits, 3) = 3, greatest({lv}, bitTest(bits, 0)), bitTest(bits, 0))")


def first_completions(b):
    """Per session with a step 2: the first completions f1, f2, f3 (0: none)."""
    c2 = (f"arrayMap((x, s) -> if({_c('x')} = 2 AND s > 0 AND {_t('x')} <= s + {W}, s, 0), "
          f"a, {fill_code(3)})")
    first = lambda cond, *arrays: _t(f"arrayFirst({cond}, {', '.join(arrays)})")  # noqa: E731
    f1 = first(f"x -> {_c('x')} = 3", "a")
    f2 = first("(x, v) -> v > 0", "a", "c2")
    f3 = first(f"(x, s) -> {_c('x')} = 1 AND s > 0 AND {_t('x')} <= s + {W}", "a",
               "arrayFill(v -> v > 0, c2)")
    return (f"SELECT {BITS} AS bits, if(bitAnd(bits, 3) = 3, arraySort(groupArray({packed(b, REV)})), []) "
            f"AS a, {c2} AS c2, toInt64({f1}) AS f1, toInt64({f2}) AS f2, toInt64({f3}) AS f3 "
            f"FROM events WHERE {scan(b['start'], b['end'])} GROUP BY session_id HAVING f2 > 0")


def _bd_outer(inner):
    return (f"SELECT if(rk <= 10, rk, 0) AS grp, if(rk <= 10, v, '') AS u0, level, 0 AS open, "
            f"max(total) AS total, sum(n) AS entrants FROM ("
            f"SELECT *, max(rk) OVER () AS total FROM ("
            f"SELECT v, level, n, dense_rank() OVER (ORDER BY size DESC, v) AS rk FROM ("
            f"SELECT v, level, toFloat64(count()) AS n, sum(toFloat64(count())) OVER (PARTITION BY v) AS size "
            f"FROM ({inner}) GROUP BY v, level))) GROUP BY grp, u0, level, open ORDER BY grp, level, open")


def breakdown(b):
    """Every session's (packed, country) array sorted; the chain passes over its key column
    `a.1` alone, the attributed country read at the index found."""
    arr = f"arraySort(groupArray(({packed(b, REV)}, {NOT_SET})))"
    s1 = f"arrayFill(v -> v > 0, arrayMap(x -> if({_c('x')} = 3, {_t('x')}, 0), ks))"
    c2 = f"arrayMap((x, s) -> if({_c('x')} = 2 AND s > 0 AND {_t('x')} <= s + {W}, s, 0), ks, {s1})"
    i3 = (f"arrayFirstIndex((x, s) -> {_c('x')} = 1 AND s > 0 AND {_t('x')} <= s + {W}, ks, "
          f"arrayFill(v -> v > 0, c2))")
    i1 = f"arrayFirstIndex(x -> {_c('x')} = 3, ks)"
    inner = (f"SELECT {BITS} AS bits, {arr} AS a, a.1 AS ks, "
             f"if(bitAnd(bits, 3) = 3, {c2}, []) AS c2, if(bitAnd(bits, 3) = 3, {i3}, 0) AS i3, "
             f"arrayFirstIndex(v -> v > 0, c2) AS i2, {i1} AS i1, "
             f"multiIf(i3 > 0, 3, i2 > 0, 2, i1 > 0, 1, 0) AS level, "
             f"a.2[multiIf(i3 > 0, i3, i2 > 0, i2, i1)] AS v "
             f"FROM events WHERE {scan(b['start'], b['end'])} GROUP BY session_id HAVING level > 0")
    return _bd_outer(inner)


def time_to_convert(b):
    """The differences of the first completions gathered as one array per step in a single
    row, each step's statistics as array functions."""
    bounds = [0] + EDGES + [None]
    hist = ", ".join(
        f"toFloat64(arrayCount(d -> d >= {lo}" + (f" AND d < {hi}, ds))" if hi is not None else ", ds))")
        + f" AS h{i}" for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])))
    return (f"SELECT step, toFloat64(length(ds)) AS n, toFloat64(arraySum(ds)) AS total, "
            f"ds[intDiv(length(ds) + 1, 2)] AS median, ds[intDiv(9 * length(ds) + 9, 10)] AS p90, "
            f"{hist} FROM (SELECT y.1 AS step, arraySort(y.2) AS ds FROM ("
            f"SELECT groupArray(f2 - f1) AS d2, groupArrayIf(f3 - f2, f3 > 0) AS d3 "
            f"FROM ({first_completions(b)})) "
            f"ARRAY JOIN [(2, d2), (3, d3)] AS y WHERE length(y.2) > 0) ORDER BY step")


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
