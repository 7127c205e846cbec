#!/usr/bin/env python3
"""openapi_check.py: validate one JSON document against schema/openapi.yaml.

Usage: openapi_check.py SPEC PATH METHOD STATUS [FILE]

Reads the JSON document from FILE (default: stdin) and validates it against the
application/json schema of the response STATUS of METHOD PATH in the OpenAPI 3.1
description SPEC. PATH is either a path template of the spec (/v1/events/{id}) or a
concrete path (/v1/events/42, a query string is ignored) that matches one template.
"$ref"s to #/components/... are resolved (also responses given by reference); "format:
date-time" is checked as RFC 3339. Exit status: 0 valid, 1 invalid (errors on stderr,
one a line with the JSON path), 2 usage error or no such path/method/status/schema.
Needs python3-yaml and python3-jsonschema (Debian packages).
"""
import json
import re
import sys

try:
    import yaml
    import jsonschema
except ImportError as e:  # pragma: no cover
    sys.stderr.write("openapi_check: %s (install python3-yaml python3-jsonschema)\n" % e)
    sys.exit(2)

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def die(msg):
    sys.stderr.write("openapi_check: %s\n" % msg)
    sys.exit(2)


def resolve(spec, node, depth=0):
    """A copy of node with every local "$ref" replaced by what it points to."""
    if depth > 64:
        die("$ref nesting deeper than 64 (a cycle?)")
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                die("unsupported $ref %r" % (ref,))
            target = spec
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    die("dangling $ref %s" % ref)
                target = target[part]
            merged = resolve(spec, target, depth + 1)
            rest = {k: resolve(spec, v, depth + 1) for k, v in node.items() if k != "$ref"}
            if rest:  # 3.1: siblings of $ref apply as well
                return {"allOf": [merged, rest]}
            return merged
        return {k: resolve(spec, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(spec, v, depth + 1) for v in node]
    return node


def find_path(paths, want):
    want = want.split("?", 1)[0]
    if want in paths:
        return want
    hits = []
    for tmpl in paths:
        rx = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(tmpl)) + "$"
        if re.match(rx, want):
            hits.append(tmpl)
    if len(hits) != 1:
        die("path %s matches %d templates of the spec" % (want, len(hits)))
    return hits[0]


def main(argv):
    if len(argv) not in (5, 6):
        die("usage: openapi_check.py SPEC PATH METHOD STATUS [FILE]")
    spec_file, path, method, status = argv[1], argv[2], argv[3].lower(), argv[4]
    with open(spec_file, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    paths = spec.get("paths") or {}
    tmpl = find_path(paths, path)
    op = paths[tmpl].get(method)
    if op is None:
        die("%s %s is not in the spec" % (method.upper(), tmpl))
    resp = (op.get("responses") or {}).get(str(status))
    if resp is None:
        die("%s %s has no response %s" % (method.upper(), tmpl, status))
    resp = resolve(spec, resp)
    content = resp.get("content") or {}
    media = [m for m in content if m.split(";")[0].strip() == "application/json"]
    if not media or "schema" not in content[media[0]]:
        die("%s %s %s has no application/json schema" % (method.upper(), tmpl, status))
    schema = content[media[0]]["schema"]

    src = open(argv[5], encoding="utf-8") if len(argv) == 6 else sys.stdin
    try:
        doc = json.load(src)
    except ValueError as e:
        sys.stderr.write("openapi_check: the document is not JSON: %s\n" % e)
        return 1

    checker = jsonschema.FormatChecker()

    @checker.checks("date-time")
    def _date_time(value):  # noqa: unused
        return not isinstance(value, str) or RFC3339.match(value) is not None

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = cls(schema, format_checker=checker)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors:
        where = "$" + "".join("[%r]" % p if isinstance(p, int) else ".%s" % p for p in e.absolute_path)
        sys.stderr.write("%s: %s\n" % (where, e.message[:300]))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
