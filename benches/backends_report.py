#!/usr/bin/env python3
"""Helpers of benches/backends.sh (standard library only).

    backends_report.py compare OUT A.json B.json C.json   identical bodies? (writes OUT)
    backends_report.py check KIND QUARRY.json RAW.json    Quarry's answer vs the raw SQL's
    backends_report.py table RESULTS_DIR                  the Markdown tables of a run

Results directory layout (written by backends.sh): `results.tsv` (tab-separated records:
`import BACKEND EVENTS SECONDS MAXRSS_KB RC`, `size BACKEND BYTES`, `serve_rss BACKEND KB`,
`identity NAME RESULT`, `check NAME RESULT`, `info KEY VALUE`) and `samples/QUERY.TARGET`
(one `HTTP_CODE SECONDS` line per timed request).
"""

import json
import math
import os
import sys

BACKENDS = [("sqlite", "SQLite"), ("pg", "PostgreSQL"), ("ch", "ClickHouse + PG catalog")]
QUERIES = [("floor", "floor: `/healthz`; raw: `SELECT 1`"),
           ("chart", "30-day daily chart of `screen_view`"),
           ("breakdown", "… with a `country` breakdown"),
           ("funnel", "3-step funnel, 30 days")]


def load(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def first_difference(a, b, path="$"):
    if type(a) is not type(b):
        return f"{path}: {json.dumps(a)[:80]} vs {json.dumps(b)[:80]}"
    if isinstance(a, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return f"{path}.{k}: present in only one"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        if list(a) != list(b):
            return f"{path}: same keys in another order"
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if a != b:
        return f"{path}: {json.dumps(a)[:80]} vs {json.dumps(b)[:80]}"
    return None


def compare(out, files):
    bodies = [open(f, "rb").read() for f in files]
    if all(b == bodies[0] for b in bodies):
        result = "byte-identical"
    else:
        notes = []
        for f, b in zip(files[1:], bodies[1:]):
            if b == bodies[0]:
                continue
            try:
                d = first_difference(json.loads(bodies[0]), json.loads(b))
            except ValueError as e:
                d = f"not JSON: {e}"
            notes.append(f"{os.path.basename(files[0])} vs {os.path.basename(f)}: {d or 'same JSON, other bytes'}")
        result = "DIFFERENT (" + "; ".join(notes) + ")"
    with open(out, "w") as f:
        f.write(result + "\n")
    print(result)


def raw_rows(path):
    """Rows of a ClickHouse `FORMAT JSONCompact` answer."""
    return load(path)["data"]


def check(kind, quarry_path, raw_path):
    q = load(quarry_path)
    rows = raw_rows(raw_path)
    if kind == "chart":
        quarry = {d["date"][:10]: d["count"] for d in q["series"][0]["data"] if d["count"]}
        raw = {r[0][:10]: int(r[1]) for r in rows}
        ok = quarry == raw
        detail = f"total {sum(quarry.values())} vs {sum(raw.values())}, {len(raw)} days"
    elif kind == "breakdown":
        quarry = {}
        for s in q["series"]:
            for d in s["data"]:
                if d["count"]:
                    quarry[(d["date"][:10], s["breakdowns"]["country"])] = d["count"]
        raw = {(r[0][:10], r[1] or "(not set)"): int(r[2]) for r in rows}
        ok = quarry == raw
        detail = f"{len(q['series'])} series, total {sum(quarry.values())} vs {sum(raw.values())}"
    elif kind == "funnel":
        levels = {int(r[0]): int(r[1]) for r in rows}
        steps = len(q["steps"])
        raw = [sum(v for lvl, v in levels.items() if lvl >= k) for k in range(1, steps + 1)]
        quarry = [s["count"] for s in q["steps"]]
        ok = quarry == raw
        detail = f"steps {quarry} vs {raw}"
    else:
        raise SystemExit(f"unknown kind {kind}")
    print(("same answer: " if ok else "DIFFERENT answer: ") + detail)


def samples(path):
    codes, times = [], []
    with open(path) as f:
        for line in f:
            code, t = line.split()
            codes.append(code)
            times.append(float(t) * 1000)
    return codes, times


def pct(sorted_ms, p):
    """Nearest-rank percentile."""
    k = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[k - 1]


def fmt_ms(v):
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def table(d):
    recs = []
    with open(os.path.join(d, "results.tsv")) as f:
        for line in f:
            recs.append(line.rstrip("\n").split("\t"))
    info = {r[1]: r[2] for r in recs if r[0] == "info"}
    out = []
    w = out.append

    w(f"Events in the measured project: {info.get('events', '?')} "
      f"(plus {info.get('other_events', '?')} in a second project); "
      f"{info.get('reps', '?')} timed requests per cell after 2 warm-ups.\n")

    w("### Import (`quarry import FILE --project bench`)\n")
    w("| backend | events | wall time | events/s | peak RSS (quarry) |")
    w("|---|---:|---:|---:|---:|")
    for key, label in BACKENDS:
        for r in recs:
            if r[0] == "import" and r[1] == key:
                n, secs, kb, rc = int(r[2]), float(r[3]), int(r[4]), r[5]
                status = "" if rc == "0" else f" (exit {rc})"
                w(f"| {label} | {n:,} | {secs:.1f} s{status} | {n / secs:,.0f} | {kb / 1024:.1f} MiB |")
    w("")
    sizes = [r for r in recs if r[0] == "size"]
    if sizes:
        w("Stored size of the events (after the second project's import): " + ", ".join(
            f"{dict(BACKENDS)[r[1]]} {int(r[2]) / 2**20:.0f} MiB" for r in sizes) + ".\n")

    w("### Latency through `quarry serve` (ms, sequential requests, one connection)\n")
    targets = [(k, l) for k, l in BACKENDS] + [("raw", "ClickHouse, hand-written SQL"),
                                               ("engine", "… of which chdb's own `elapsed`")]
    w("| request | " + " | ".join(f"{l} p50 / p95" for _, l in targets) + " | Quarry-on-ClickHouse ÷ raw SQL (p50) |")
    w("|---|" + "---:|" * (len(targets) + 1))
    for q, qlabel in QUERIES:
        cells, p50s = [], {}
        for t, _ in targets:
            path = os.path.join(d, "samples", f"{q}.{t}")
            if not os.path.exists(path):
                cells.append("–")
                continue
            codes, times = samples(path)
            bad = sum(1 for c in codes if c != "200")
            s = sorted(times)
            p50s[t] = pct(s, 50)
            cell = f"{fmt_ms(pct(s, 50))} / {fmt_ms(pct(s, 95))}"
            if bad:
                cell += f" ({bad} non-200)"
            cells.append(cell)
        ratio = f"{p50s['ch'] / p50s['raw']:.2f}×" if q != "floor" and "ch" in p50s and p50s.get("raw") else "–"
        w(f"| {qlabel} | " + " | ".join(cells) + f" | {ratio} |")
    w("")
    serve = [r for r in recs if r[0] == "serve_rss"]
    if serve:
        w("Peak RSS of the servers after the latency runs: " + ", ".join(
            (f"the chdb server (Python + ClickHouse engine) {int(r[2]) / 1024:.0f} MiB" if r[1] == "chdb"
             else f"quarry serve on {dict(BACKENDS).get(r[1], r[1])} {int(r[2]) / 1024:.0f} MiB")
            for r in serve) + ".\n")

    ident = [r for r in recs if r[0] == "identity"]
    if ident:
        w("### Same answer on every backend?\n")
        w("| response | SQLite vs PostgreSQL vs ClickHouse |")
        w("|---|---|")
        for r in ident:
            w(f"| {r[1]} | {r[2]} |")
        w("")
    checks = [r for r in recs if r[0] == "check"]
    if checks:
        w("| Quarry (ClickHouse) vs hand-written SQL | result |")
        w("|---|---|")
        for r in checks:
            w(f"| {r[1]} | {r[2]} |")
        w("")
    print("\n".join(out))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "compare" and len(sys.argv) >= 5:
        compare(sys.argv[2], sys.argv[3:])
    elif cmd == "check" and len(sys.argv) == 5:
        check(*sys.argv[2:])
    elif cmd == "table" and len(sys.argv) == 3:
        table(sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
