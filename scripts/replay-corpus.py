#!/usr/bin/env python3
"""Replay the `request` fuzz corpus against a running Quarry server (docs/fuzzing.md).

The fuzz target `request` stops at the SQL; this sends each of its inputs to a real server
so that the engine behind it runs what the compiler made. Each input is a selector byte
(bits 0-1: charts, funnel, events, or all three) followed by a query string; it becomes
`GET <endpoint>?projectId=<project>&<query string>`, with the bytes HTTP cannot carry raw
(control characters, spaces) percent-encoded. Every answer must be a status below 500, or
503/504, and every error a §4.2 JSON body. Prints a summary and each violation; exits 1 if
there is any.

    scripts/replay-corpus.py --port 3000 --client-id ID --secret SECRET --project demo \\
        fuzz/corpus/request [more directories]

Run it against a server started with `QUARRY_RATE_LIMIT=off` (thousands of requests) and
a short `QUARRY_QUERY_TIMEOUT` (some inputs ask for a lot). Only 127.0.0.1 is contacted,
one request at a time. Python 3 standard library only.
"""

import argparse
import collections
import glob
import json
import socket
import sys
import time

ENDPOINTS = ["/export/charts", "/export/funnel", "/export/events"]


def encode(query: bytes) -> bytes:
    out = bytearray()
    for b in query:
        out += b"%%%02X" % b if b <= 0x20 or b == 0x7F else bytes([b])
    return bytes(out)


def send(port: int, target: bytes, client_id: str, secret: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"openpanel-client-id: " + client_id.encode() + b"\r\n"
            b"openpanel-client-secret: " + secret.encode() + b"\r\n\r\n"
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data


def check(answer: bytes):
    """None if the answer is acceptable, else why not."""
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        return "no HTTP answer"
    status = int(head.split(b" ")[1])
    if status >= 500 and status not in (503, 504):
        return f"{status}: {body[:300]!r}"
    if status >= 400:
        try:
            j = json.loads(body)
        except ValueError:
            return f"{status} without a JSON body: {body[:200]!r}"
        if not {"error", "code", "message"} <= set(j):
            return f"{status} body not in the §4.2 shape: {body[:200]!r}"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--project", default="demo")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    paths = sorted(p for d in args.dirs for p in glob.glob(d + "/*"))
    statuses = collections.Counter()
    bad = []
    started = time.time()
    for i, path in enumerate(paths):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:  # a running fuzzer replaced it
            continue
        if not data:
            continue
        sel, query = data[0], encode(data[1:])
        endpoints = ENDPOINTS if sel & 3 == 3 else [ENDPOINTS[sel & 3]]
        for ep in endpoints:
            target = f"{ep}?projectId={args.project}&".encode() + query
            try:
                answer = send(args.port, target, args.client_id, args.secret)
            except OSError as e:
                statuses["error"] += 1
                bad.append((path, ep, f"connection: {e}"))
                continue
            statuses[answer.split(b" ", 2)[1].decode("latin1") if answer else "empty"] += 1
            if why := check(answer):
                bad.append((path, ep, why))
        if i % 1000 == 0:
            print(f"{i}/{len(paths)} {dict(statuses)} {time.time() - started:.0f} s", flush=True)
    print(f"done: {len(paths)} inputs, {dict(statuses)}, {time.time() - started:.0f} s")
    for b in bad:
        print("BAD", *b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
