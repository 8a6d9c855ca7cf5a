"""The skip gate of CI: list every skipped test of a run and fail when one is not allowed.

Reads the JUnit XML files scripts/test.sh writes (var/test-results/*.xml) and the allow-list
tests/skips-allowed.txt. A skip hides a test that did not run, so in CI each one must be
written down with the reason it is acceptable; anything else is a failure, like a failed test.

    python scripts/skip_gate.py [--results DIR] [--allowed FILE]

Exit status: 0 when every skip is allowed, 1 when one is not, 2 when there are no results or
the allow-list is malformed. Expected failures (xfail) count as skips: they did not pass either.
"""

from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Skip:
    node_id: str
    reason: str


@dataclass(frozen=True)
class Allowed:
    pattern: str
    why: str
    line: int

    def matches(self, node_id: str) -> bool:
        # Only `*` is a wildcard: test ids contain brackets ([param]) that fnmatch would
        # read as character classes.
        regex = ".*".join(re.escape(part) for part in self.pattern.split("*"))
        return re.fullmatch(regex, node_id) is not None


class AllowListError(ValueError):
    pass


def node_id(classname: str, name: str, root: Path) -> str:
    """pytest's node id from JUnit's dotted classname: the longest dotted prefix that is a
    .py file under root is the module, the rest are classes."""
    parts = classname.split(".") if classname else []
    for cut in range(len(parts), 0, -1):
        module = "/".join(parts[:cut]) + ".py"
        if (root / module).is_file():
            return "::".join([module, *parts[cut:], name])
    return "::".join([*([classname] if classname else []), name])


def skips_in(results: Path, root: Path) -> tuple[list[Skip], int]:
    """(the skipped tests of every *.xml under results, how many result files there were)."""
    files = sorted(results.glob("*.xml"))
    skips = []
    for path in files:
        for case in ET.parse(path).getroot().iter("testcase"):
            skipped = case.find("skipped")
            if skipped is None:
                continue
            reason = skipped.get("message") or (skipped.text or "").strip()
            if skipped.get("type") == "pytest.xfail":
                reason = f"xfail: {reason}"
            skips.append(
                Skip(node_id(case.get("classname", ""), case.get("name", ""), root), reason)
            )
    return skips, len(files)


def allow_list(path: Path) -> list[Allowed]:
    """One node id or pattern (`*` matches anything) per line, then `# why` on the same
    line. Blank lines and lines that start with # are comments. An entry without its
    reason is an error: the file exists to say why each skip is acceptable."""
    if not path.is_file():
        return []
    entries = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, why = line.partition(" #")
        if not why.strip():
            raise AllowListError(f"{path}:{number}: no '# reason' after {pattern.strip()!r}")
        entries.append(Allowed(pattern.strip(), why.strip(), number))
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "var" / "test-results")
    parser.add_argument("--allowed", type=Path, default=ROOT / "tests" / "skips-allowed.txt")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    try:
        allowed = allow_list(args.allowed)
    except AllowListError as exc:
        print(f"skip gate: {exc}")
        return 2
    skips, files = skips_in(args.results, args.root)
    if not files:
        print(f"skip gate: no test results (*.xml) in {args.results}")
        return 2

    unlisted = []
    print(f"skipped tests: {len(skips)}")
    for skip in skips:
        entry = next((a for a in allowed if a.matches(skip.node_id)), None)
        if entry is None:
            unlisted.append(skip)
            print(f"  NOT ALLOWED  {skip.node_id}: {skip.reason}")
        else:
            print(f"  allowed      {skip.node_id}: {skip.reason} (line {entry.line}: {entry.why})")
    unused = [a for a in allowed if not any(a.matches(s.node_id) for s in skips)]
    for entry in unused:
        print(f"  note: line {entry.line} of {args.allowed.name} matched no skip: {entry.pattern}")
    if unlisted:
        print(
            f"skip gate: FAILED, {len(unlisted)} skipped test(s) not in {args.allowed}: "
            "make them run, or add them there with the reason"
        )
        return 1
    print("skip gate: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
