"""schemathesis hooks for Quarry (loaded by scripts/schemathesis.sh via SCHEMATHESIS_HOOKS).

What the OpenAPI document cannot say, checked on every response:

- `ndjson_lines_conform`: every line of a streamed NDJSON export is one JSON object valid
  against the documented schema of a line (schemathesis itself, through the deserializer
  below, sees only the first); the body ends with a newline, and only the last line may be
  the error object of a stream that failed midway.
- `event_keys_in_contract_order`: the keys of every Event (JSON page, keyset page, NDJSON
  line, CSV header) are those the request asked for, in the contract's order (§5,
  docs/export.md): `fields` as given (else the twelve defaults), then the fields `includes`
  adds in §2.1's order, then `profile` and `meta`.
- `error_keys_in_contract_order`: every JSON error is `error, code, message[, details]`,
  in that order (§4.2), and `details` is there exactly on a 400.
- `streamed_bodies_are_whole`: a CSV export has a header row and CRLF record ends; a
  Parquet export begins and ends with `PAR1`.
- `every_export_operation_answers_200`: after the run, each export operation has answered
  200 at least once, so the response schemas were really exercised.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import schemathesis
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# §2.1's order of the Event fields; `includes` adds fields in this order.
EVENT_FIELDS = [
    "id", "name", "deviceId", "profileId", "projectId", "sessionId", "properties", "createdAt",
    "country", "city", "region", "longitude", "latitude", "os", "osVersion", "browser",
    "browserVersion", "device", "brand", "model", "duration", "path", "origin", "referrer",
    "referrerName", "referrerType", "sdkName", "sdkVersion", "importedAt",
]
# §5's defaults, in order.
DEFAULT_FIELDS = ["id", "name", "deviceId", "profileId", "projectId", "createdAt", "country",
                  "city", "os", "browser", "duration", "path"]
ERROR_KEYS = ["error", "code", "message", "details"]
EXPORT_PATHS = ("/export/events", "/export/charts", "/export/funnel")
DOC_URI = "urn:quarry:openapi"


def _media_type(response) -> str:
    values = response.headers.get("content-type") or [""]
    return values[0].split(";")[0].strip().lower()


def _path(case) -> str:
    return case.operation.path


def _query_values(response, name: str) -> list[str] | None:
    """Every value of `name` as sent on the wire, or None when the request had none."""
    pairs = parse_qsl(urlsplit(response.request.url).query, keep_blank_values=True)
    values = [v for k, v in pairs if k == name]
    return values or None


def _names(values: list[str] | None) -> list[str] | None:
    """A list parameter as the server reads it (docs/export.md): a JSON array, repeated keys
    or comma-separated text; names trimmed, empty ones dropped."""
    if values is None:
        return None
    items: list[Any] = []
    for v in values:
        if v.lstrip().startswith("["):
            items.extend(json.loads(v))
        else:
            items.append(v)
    names: list[str] = []
    for item in items:
        names.extend(n.strip() for n in str(item).split(",") if n.strip())
    return names


def expected_columns(response) -> tuple[list[str], bool, bool]:
    """The Event keys the request asks for (without `profile` and `meta`), and whether
    `profile` and `meta` were included."""
    fields = _names(_query_values(response, "fields"))
    includes = _names(_query_values(response, "includes")) or []
    if fields is None:
        columns = list(DEFAULT_FIELDS)
    else:
        columns = []
        for f in fields:
            if f not in columns:
                columns.append(f)
    extra = [f for f in EVENT_FIELDS if f in includes and f not in columns]
    return columns + extra, "profile" in includes, "meta" in includes


def _check_event_keys(keys: list[str], response, where: str) -> None:
    columns, profile, meta = expected_columns(response)
    expected = list(columns)
    rest = keys[len(columns):]
    allowed_tail = [k for k, on in (("profile", profile), ("meta", meta)) if on]
    if keys[: len(columns)] != expected or [k for k in allowed_tail if k in rest] != rest:
        raise AssertionError(
            f"{where}: Event keys {keys} are not the requested ones in the contract's order: "
            f"expected {expected} then any of {allowed_tail}"
        )


def _is_events_200(response, case) -> bool:
    return _path(case) == "/export/events" and response.status_code == 200


@schemathesis.check
def event_keys_in_contract_order(ctx, response, case):
    if not _is_events_200(response, case):
        return None
    media = _media_type(response)
    if media == "application/json":
        body = json.loads(response.content)
        if "statements" in body:  # explain=true
            return None
        for i, event in enumerate(body.get("data", [])):
            _check_event_keys(list(event), response, f"data[{i}]")
    elif media == "application/x-ndjson":
        for i, line in enumerate(_complete_lines(response)):
            obj = json.loads(line)
            if set(obj) >= {"error", "code", "message"} and "id" not in obj:
                continue  # an error line ending a failed stream
            _check_event_keys(list(obj), response, f"line {i + 1}")
    elif media == "text/csv":
        text = response.content.decode("utf-8")
        header = next(csv.reader(io.StringIO(text)), None)
        if header is None:
            raise AssertionError("CSV export without a header row")
        columns, profile, meta = expected_columns(response)
        expected = columns + [k for k, on in (("profile", profile), ("meta", meta)) if on]
        if header != expected:
            raise AssertionError(f"CSV header {header} is not {expected}")
    return None


def _complete_lines(response) -> list[str]:
    text = response.content.decode("utf-8")
    lines = text.split("\n")
    # The last element is what follows the final newline: empty for a whole body.
    return lines[:-1]


@schemathesis.deserializer("application/x-ndjson")
def first_ndjson_line(ctx, response):
    """The first line of an NDJSON export (`{}` for an empty one) for schemathesis' own
    response schema check, whose schema is that of one line; `ndjson_lines_conform` checks
    every line."""
    for line in _complete_lines(response):
        return json.loads(line)
    return {}


_validators: dict[tuple[int, str], Draft202012Validator] = {}

NDJSON_LINE = "/paths/~1export~1events/get/responses/200/content/application~1x-ndjson/schema"
ERROR = "/components/schemas/Error"


def _validator(case, pointer: str) -> Draft202012Validator:
    """A validator of the schema at `pointer` in the document under test."""
    raw = case.operation.schema.raw_schema
    key = (id(raw), pointer)
    if key not in _validators:
        registry = Registry().with_resource(DOC_URI, Resource(contents=raw, specification=DRAFT202012))
        _validators[key] = Draft202012Validator({"$ref": f"{DOC_URI}#{pointer}"}, registry=registry)
    return _validators[key]


@schemathesis.check
def ndjson_lines_conform(ctx, response, case):
    if not _is_events_200(response, case) or _media_type(response) != "application/x-ndjson":
        return None
    if response.content and not response.content.endswith(b"\n"):
        raise AssertionError("NDJSON body does not end with a newline")
    lines = _complete_lines(response)
    for i, line in enumerate(lines):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise AssertionError(f"line {i + 1} is not JSON: {e}: {line[:200]!r}") from None
        # A stream that fails after its first byte ends with the error object (docs/export.md).
        if i == len(lines) - 1 and _validator(case, ERROR).is_valid(obj):
            continue
        error = best_match(_validator(case, NDJSON_LINE).iter_errors(obj))
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path)
            raise AssertionError(f"line {i + 1} does not match the Event schema at /{at}: {error.message}")
    return None


@schemathesis.check
def streamed_bodies_are_whole(ctx, response, case):
    if not _is_events_200(response, case):
        return None
    media = _media_type(response)
    if media == "text/csv":
        if not response.content.endswith(b"\r\n"):
            raise AssertionError("CSV export does not end with CRLF")
    elif media == "application/vnd.apache.parquet":
        body = response.content
        if not (body.startswith(b"PAR1") and body.endswith(b"PAR1")):
            raise AssertionError("Parquet export does not begin and end with PAR1")
    return None


@schemathesis.check
def error_keys_in_contract_order(ctx, response, case):
    if response.status_code < 400 or _media_type(response) != "application/json":
        return None
    body = json.loads(response.content)
    if not isinstance(body, dict):
        raise AssertionError(f"error body is not an object: {body!r}")
    keys = list(body)
    expected = ERROR_KEYS if response.status_code == 400 else ERROR_KEYS[:3]
    if keys != expected:
        raise AssertionError(f"error keys {keys}, expected {expected} (§4.2)")
    return None


@schemathesis.check
class every_export_operation_answers_200:
    """Fail when an export operation never answered 200: its schemas went unchecked."""

    def __init__(self):
        self.tested: set[str] = set()
        self.answered: set[str] = set()

    def after_response(self, ctx, response, case):
        path = _path(case)
        if path in EXPORT_PATHS:
            self.tested.add(path)
            if response.status_code == 200:
                self.answered.add(path)

    def after_run(self, ctx):
        missing = sorted(self.tested - self.answered)
        if missing:
            raise AssertionError(f"never answered 200: {', '.join(missing)}")
