#!/usr/bin/env python3
"""Deterministic NDJSON events for benches/backends.sh (the `quarry import` line format, §2.1).

    python3 benches/backends_gen.py --events 1000000 --now-ms 1717243200000 --out events.ndjson

The traffic of a small SaaS web site, generated day by day (so the file is in rough
chronological order and the generator's memory is one day of sessions): visitor sessions
made of a `session_start`, a few `screen_view`s over ~30 paths with a Zipf-like
popularity, usually a `session_end`; a `sign_up` (after at least one page view) when a new
user registers, and `purchase` events with a numeric `total` and a `currency`, more likely
for identified users and sometimes in the sign-up session itself. ~20% of sessions carry
`__query.utm_*` properties (as nested `{"__query": {...}}`, which import flattens). About
60% of sessions are anonymous (empty `profileId`). Countries, cities and coordinates belong
together, as do device, OS, browser, brand and model. Traffic has a daily and weekly rhythm
and grows mildly over the `--days` days before `--now-ms`; no event is at or after it.

Only `random.Random(seed)` is used, never the clock: the same arguments give the same
bytes. Exactly `--events` lines are written (the last session of a day may be cut short).
"""

import argparse
import bisect
import itertools
import json
import random
import sys
import uuid

DAY_MS = 86_400_000
ORIGIN = "https://app.quarry.example"

# (country, weight, [(city, region, lat, lon), ...])
COUNTRIES = [
    ("US", 30, [("New York", "New York", 40.71, -74.01), ("San Francisco", "California", 37.77, -122.42),
                ("Austin", "Texas", 30.27, -97.74), ("Seattle", "Washington", 47.61, -122.33)]),
    ("DE", 12, [("Berlin", "Berlin", 52.52, 13.40), ("München", "Bayern", 48.14, 11.58),
                ("Hamburg", "Hamburg", 53.55, 9.99)]),
    ("GB", 10, [("London", "England", 51.51, -0.13), ("Manchester", "England", 53.48, -2.24)]),
    ("SE", 6, [("Stockholm", "Stockholm", 59.33, 18.07), ("Göteborg", "Västra Götaland", 57.71, 11.97)]),
    ("FR", 7, [("Paris", "Île-de-France", 48.86, 2.35), ("Lyon", "Auvergne-Rhône-Alpes", 45.76, 4.84)]),
    ("IN", 9, [("Bengaluru", "Karnataka", 12.97, 77.59), ("Mumbai", "Maharashtra", 19.08, 72.88)]),
    ("BR", 5, [("São Paulo", "São Paulo", -23.55, -46.63)]),
    ("JP", 4, [("Tokyo", "Tokyo", 35.68, 139.69), ("Osaka", "Osaka", 34.69, 135.50)]),
    ("CA", 5, [("Toronto", "Ontario", 43.65, -79.38), ("Vancouver", "British Columbia", 49.28, -123.12)]),
    ("AU", 3, [("Sydney", "New South Wales", -33.87, 151.21)]),
    ("NL", 3, [("Amsterdam", "North Holland", 52.37, 4.90)]),
    ("ES", 3, [("Madrid", "Madrid", 40.42, -3.70)]),
    ("PL", 2, [("Warszawa", "Mazowieckie", 52.23, 21.01)]),
    ("", 1, [("", "", None, None)]),  # unknown geo: `(not set)` in breakdowns
]

# (device, weight, os, [os versions], [(browser, [versions])], [(brand, model)])
DEVICES = [
    ("desktop", 55, "Windows", ["10", "11"], [("Chrome", ["124.0", "125.0"]), ("Edge", ["124.0"]), ("Firefox", ["126.0"])], [("", "")]),
    ("desktop", 20, "Mac OS", ["14.4", "14.5"], [("Chrome", ["125.0"]), ("Safari", ["17.4", "17.5"])], [("Apple", "Macintosh")]),
    ("desktop", 4, "Linux", [""], [("Firefox", ["126.0"]), ("Chrome", ["125.0"])], [("", "")]),
    ("mobile", 10, "iOS", ["17.4", "17.5"], [("Mobile Safari", ["17.4", "17.5"])], [("Apple", "iPhone")]),
    ("mobile", 8, "Android", ["13", "14"], [("Chrome", ["125.0"]), ("Samsung Internet", ["24.0"])], [("Samsung", "Galaxy S23"), ("Google", "Pixel 8")]),
    ("tablet", 3, "iOS", ["17.5"], [("Mobile Safari", ["17.5"])], [("Apple", "iPad")]),
]

PATHS = ["/", "/pricing", "/docs", "/docs/getting-started", "/features", "/blog",
         "/docs/api", "/login", "/signup", "/dashboard", "/docs/sdks/web", "/about",
         "/blog/launch-week", "/integrations", "/docs/self-hosting", "/changelog",
         "/blog/clickhouse-vs-postgres", "/contact", "/careers", "/docs/api/export",
         "/customers", "/security", "/blog/summer-sale", "/docs/funnels", "/terms",
         "/privacy", "/status", "/docs/charts", "/partners", "/press"]
PATH_WEIGHTS = [1.0 / (i + 1) ** 1.1 for i in range(len(PATHS))]

REFERRERS = [  # (referrer, name, type, weight)
    ("", "", "", 40),
    ("https://www.google.com/", "Google", "search", 30),
    ("https://duckduckgo.com/", "DuckDuckGo", "search", 4),
    ("https://t.co/", "Twitter", "social", 8),
    ("https://www.linkedin.com/", "LinkedIn", "social", 5),
    ("https://news.ycombinator.com/", "Hacker News", "social", 6),
    ("https://github.com/", "GitHub", "unknown", 7),
]

CAMPAIGNS = [  # utm_source, utm_medium, utm_campaign
    ("google", "cpc", "brand"), ("google", "cpc", "competitors"),
    ("newsletter", "email", "may-digest"), ("twitter", "social", 'summer "sale" ✓'),
    ("linkedin", "paid_social", "launch-week"),
]
PLANS = [("starter", 19.0), ("pro", 49.99), ("team", 149.5), ("enterprise", 999.0)]
HOUR_WEIGHTS = [0.3, 0.2, 0.15, 0.12, 0.12, 0.2, 0.4, 0.7, 1.0, 1.3, 1.5, 1.6,
                1.6, 1.6, 1.7, 1.7, 1.6, 1.4, 1.2, 1.0, 0.9, 0.8, 0.6, 0.4]


def cumulative(weights):
    return list(itertools.accumulate(weights))


def iso(ms):
    s, milli = divmod(ms, 1000)
    days, rest = divmod(s, 86400)
    # 1970-01-01 + days, without the datetime module's per-call cost
    y, m, d = civil_from_days(days)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (y, m, d, rest // 3600, rest // 60 % 60, rest % 60, milli)


def civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + (m <= 2), m, d)


class Gen:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.project = args.project
        self.now = args.now_ms
        self.days = args.days
        self.events = args.events
        self.country_cum = cumulative([c[1] for c in COUNTRIES])
        self.device_cum = cumulative([d[1] for d in DEVICES])
        self.path_cum = cumulative(PATH_WEIGHTS)
        self.ref_cum = cumulative([r[3] for r in REFERRERS])
        self.hour_cum = cumulative(HOUR_WEIGHTS)
        # Identified users: a pre-existing base plus the ones who sign up in the window.
        self.users = []  # (profile_id, device_id, geo, device)
        base = max(10, args.events // 60)
        for _ in range(base):
            self.users.append(self.new_identity())

    def pick(self, cum):
        return bisect.bisect_right(cum, self.rng.random() * cum[-1])

    def uid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_identity(self):
        c = COUNTRIES[self.pick(self.country_cum)]
        geo = (c[0],) + self.rng.choice(c[2])
        d = DEVICES[self.pick(self.device_cum)]
        browser, versions = self.rng.choice(d[4])
        brand, model = self.rng.choice(d[5])
        device = {"os": d[2], "osVersion": self.rng.choice(d[3]), "browser": browser,
                  "browserVersion": self.rng.choice(versions), "device": d[0],
                  "brand": brand, "model": model}
        return (self.uid(), "dev-" + self.uid()[:18], geo, device)

    def day_weights(self):
        first_day = self.now // DAY_MS - self.days
        weights = []
        for i in range(self.days + 1):
            day = first_day + i
            weekday = (day + 3) % 7  # 0 = Monday
            w = (0.65 if weekday >= 5 else 1.0) * (1.0 + 0.5 * i / self.days)
            w *= 0.85 + 0.3 * self.rng.random()
            weights.append((day, w))
        # the last day only counts up to now
        weights[-1] = (weights[-1][0], weights[-1][1] * (self.now % DAY_MS) / DAY_MS)
        return weights

    def run(self, out):
        weights = self.day_weights()
        total_w = sum(w for _, w in weights)
        written = 0
        acc = 0.0
        for day, w in weights:
            acc += w
            budget = round(self.events * acc / total_w) - written
            written += self.day(out, day, budget)
        assert written == self.events, (written, self.events)

    def day(self, out, day, budget):
        """Sessions of one day until `budget` events; returns the events written."""
        sessions = []
        n = 0
        while n < budget:
            events = self.session(day)
            if not events:
                continue
            sessions.extend(events[: budget - n])
            n += len(events[: budget - n])
        sessions.sort(key=lambda e: e[0])
        write = out.write
        dumps = json.dumps
        for _, line in sessions:
            write(dumps(line, ensure_ascii=False, separators=(",", ":")))
            write("\n")
        return n

    def session(self, day):
        rng = self.rng
        hour = self.pick(self.hour_cum)
        t = day * DAY_MS + hour * 3_600_000 + rng.randrange(3_600_000)
        latest = self.now - 3_600_000  # sessions finish before now
        if t > latest:
            t = day * DAY_MS + rng.randrange(max(1, min(DAY_MS, latest - day * DAY_MS)))
        identified = rng.random() < 0.4
        new_user = identified and rng.random() < 0.12
        if identified and not new_user:
            profile, device_id, geo, device = rng.choice(self.users)
        else:
            profile, device_id, geo, device = self.new_identity()
            if new_user:
                self.users.append((profile, device_id, geo, device))
        if not identified:
            profile = ""
        session_id = self.uid()
        ref = REFERRERS[self.pick(self.ref_cum)]
        utm = rng.choice(CAMPAIGNS) if rng.random() < 0.2 else None
        common = {
            "projectId": self.project, "deviceId": device_id, "profileId": profile,
            "sessionId": session_id, "country": geo[0], "city": geo[1], "region": geo[2],
            "latitude": geo[3], "longitude": geo[4], **device, "origin": ORIGIN,
            "referrer": ref[0], "referrerName": ref[1], "referrerType": ref[2],
            "sdkName": "web", "sdkVersion": "1.1.0",
        }
        props = {"__query": {"utm_source": utm[0], "utm_medium": utm[1], "utm_campaign": utm[2]}} if utm else {}
        out = []

        def emit(name, at, path="", duration=0, extra=None):
            if at >= self.now:  # nothing at or after "now"
                return
            p = dict(props)
            if extra:
                p.update(extra)
            line = {"id": self.uid(), "name": name, "createdAt": iso(at), **common,
                    "path": path, "duration": duration, "properties": p}
            out.append((at, line))

        emit("session_start", t, "/")
        views = 1 + min(int(rng.expovariate(0.45)), 14)
        for _ in range(views):
            stay = int(rng.expovariate(1 / 40_000)) + 500
            emit("screen_view", t, PATHS[self.pick(self.path_cum)], stay)
            t += stay
        if new_user:
            t += rng.randrange(5_000, 120_000)
            emit("sign_up", t, "/signup", 0, {"method": rng.choice(["email", "google", "github"])})
        if (new_user and rng.random() < 0.35) or (identified and rng.random() < 0.06) or rng.random() < 0.005:
            t += rng.randrange(10_000, 600_000)
            plan, price = rng.choice(PLANS)
            qty = 1 + (rng.random() < 0.15)
            emit("purchase", t, "/checkout", 0,
                 {"total": round(price * qty, 2), "currency": rng.choice(["USD", "USD", "EUR"]),
                  "plan": plan, "quantity": qty})
        if out and rng.random() < 0.85:
            emit("session_end", t + 1000, "", t + 1000 - out[0][0])
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, required=True)
    ap.add_argument("--now-ms", type=int, required=True, help="end of the window (ms since the epoch)")
    ap.add_argument("--days", type=int, default=45)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--project", default="bench")
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8", buffering=1 << 20)
    Gen(args).run(out)
    out.flush()


if __name__ == "__main__":
    main()
