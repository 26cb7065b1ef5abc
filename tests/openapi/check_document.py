#!/usr/bin/env python3
"""Static checks of crates/server/assets/openapi.json, run by scripts/schemathesis.sh before
the server is tested against it:

- the document is valid OpenAPI 3.1 (openapi-spec-validator);
- every example in it (parameter, media type, header and schema `examples`) is valid
  against the schema it illustrates, so the explorer and client generators never show a
  request or a response that the document itself rejects.

Usage: check_document.py [PATH]   (default: crates/server/assets/openapi.json)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOC_URI = "urn:quarry:openapi"


def pointer(parts: list[str]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def examples_of(node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """`example` and each `examples.<name>.value` of a parameter, header or media type."""
    if "example" in node:
        yield "example", node["example"]
    for name, ex in (node.get("examples") or {}).items():
        if isinstance(ex, dict) and "value" in ex:
            yield f"examples/{name}", ex["value"]


def walk(node: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + [k])
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + [str(i)])


def check(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    registry = Registry().with_resource(DOC_URI, Resource(contents=doc, specification=DRAFT202012))

    def validate(value: Any, schema_path: list[str], where: str) -> None:
        schema = {"$ref": f"{DOC_URI}#{pointer(schema_path)}"}
        validator = Draft202012Validator(schema, registry=registry)
        for error in validator.iter_errors(value):
            problems.append(f"{where}: {error.message} (at {list(error.absolute_path)})")

    for path, node in walk(doc, []):
        if not isinstance(node, dict):
            continue
        where = "#" + pointer(path)
        # Parameters, headers and media types: `schema` beside `example(s)`.
        if "schema" in node and ("example" in node or "examples" in node):
            for label, value in examples_of(node):
                validate(value, path + ["schema"], f"{where}/{label}")
        # Parameters with `content`: examples live in the media type (checked above).
        # Schema objects: an `examples` array of instances.
        in_schema = "schemas" in path or "schema" in path
        if in_schema and isinstance(node.get("examples"), list):
            for i, value in enumerate(node["examples"]):
                validate(value, path, f"{where}/examples/{i}")
    # Unique operation ids; unique (name, in) per operation.
    seen: set[str] = set()
    for route, item in doc.get("paths", {}).items():
        for method, op in item.items():
            op_id = op.get("operationId")
            if op_id in seen:
                problems.append(f"{method.upper()} {route}: duplicate operationId {op_id}")
            seen.add(op_id)
            keys = []
            for p in op.get("parameters", []):
                if "$ref" in p:
                    name = p["$ref"].rsplit("/", 1)[-1]
                    p = doc["components"]["parameters"][name]
                keys.append((p["name"], p["in"]))
            if len(keys) != len(set(keys)):
                problems.append(f"{method.upper()} {route}: a parameter is listed twice")
    return problems


def main() -> int:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "crates/server/assets/openapi.json")
    doc = json.loads(path.read_text())
    try:
        validate_openapi(doc)
    except Exception as e:  # the validator's own exception types vary by version
        print(f"{path}: not valid OpenAPI 3.1: {e}", file=sys.stderr)
        return 1
    problems = check(doc)
    for p in problems:
        print(f"{path}: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"{path}: valid OpenAPI {doc['openapi']}, every example matches its schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
