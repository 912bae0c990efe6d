#!/usr/bin/env python3
"""Recomputes the verdicts of the Avro compatibility cases with the Python `avro` package's
ReaderWriterCompatibilityChecker (the port of Apache Avro's Java SchemaCompatibility checker).

Each directory next to this script is one case: v1.avsc .. vN.avsc (the subject's history,
oldest first) and case.json:

    {"rule": "<the resolution rule exercised>", "level": "BACKWARD", "expected": "compatible"}

`expected` is the Python checker's verdict for the newest version against the earlier ones at
`level`, with the registries' meaning of the levels (BACKWARD: the newest is the reader of the
previous version's data; FORWARD: the previous version reads the newest's; FULL: both;
*_TRANSITIVE: against every earlier version; NONE: nothing). A case where the Python port
departs from the Java checker (which the registries run) also says `"java": "<verdict>"` and
`"why"`; flotilla follows `java`.

    python3 generate.py          rewrite `expected` in every case.json
    python3 generate.py --check  exit 1 when a committed verdict differs from the checker's

Needs `pip install avro` (1.12); the Rust test runs `--check` when python3 and avro are there.
"""

import json
import pathlib
import sys

try:
    import avro.schema
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
except ImportError:  # pragma: no cover - reported to the caller
    print("generate.py: the Python `avro` package is not installed (pip install avro)", file=sys.stderr)
    sys.exit(3)

HERE = pathlib.Path(__file__).resolve().parent


def reads(reader, writer):
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    return result.compatibility is SchemaCompatibilityType.compatible


def verdict(level, versions):
    try:
        return checked_verdict(level, versions)
    except Exception as error:  # the port raises where Java answers (an `error` record)
        return f"checker error: {error}"


def checked_verdict(level, versions):
    newest = versions[-1]
    earlier = versions[:-1]
    if level == "NONE" or not earlier:
        return "compatible"
    if not level.endswith("_TRANSITIVE"):
        earlier = earlier[-1:]
    base = level.replace("_TRANSITIVE", "")
    for older in reversed(earlier):
        if base in ("BACKWARD", "FULL") and not reads(newest, older):
            return "incompatible"
        if base in ("FORWARD", "FULL") and not reads(older, newest):
            return "incompatible"
    return "compatible"


def versions_of(case):
    paths = sorted(case.glob("v*.avsc"), key=lambda path: int(path.stem[1:]))
    return [avro.schema.parse(path.read_text()) for path in paths]


def main():
    check = "--check" in sys.argv[1:]
    cases = sorted(path for path in HERE.iterdir() if (path / "case.json").is_file())
    differences = 0
    for case in cases:
        spec = json.loads((case / "case.json").read_text())
        got = verdict(spec["level"], versions_of(case))
        if check:
            if spec.get("expected") != got:
                differences += 1
                print(f"{case.name}: committed {spec.get('expected')}, the checker says {got}")
        elif spec.get("expected") != got:
            spec["expected"] = got
            (case / "case.json").write_text(json.dumps(spec, indent=2) + "\n")
    print(f"avro oracle: {len(cases)} cases, {differences} differ from the Python checker")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
