"""`softmax-harness baseline --update DIR...`: rewrite the known-findings
baseline from a run (a deliberate change), keeping existing reasons."""

from __future__ import annotations

import json
from pathlib import Path

from .. import baseline as B
from ..registry import UsageError


def register(sub) -> None:
    p = sub.add_parser("baseline", help="show or rewrite the known-findings baseline from result folders")
    p.add_argument("dirs", nargs="+", help="result folders (reports/out/results/<env>)")
    p.add_argument("--file", default="baseline.toml", help="baseline file (default baseline.toml)")
    p.add_argument("--update", action="store_true", help="rewrite the file from these results")
    p.set_defaults(func=main)


def read_results(dirs: list[str]) -> list[dict]:
    out = []
    for d in dirs:
        p = Path(d)
        if not p.is_dir():
            raise UsageError(f"results folder {p} does not exist")
        for f in sorted(p.rglob("*.jsonl")):
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise UsageError(f"{f}:{n}: not JSON ({e.msg})") from None
    return out


def hypothesis_version(dirs: list[str]) -> str | None:
    """The Hypothesis version the results were drawn with (env.json), when all agree."""
    seen = set()
    for d in dirs:
        for f in Path(d).rglob("env.json"):
            try:
                seen.add(json.loads(f.read_text(encoding="utf-8")).get("versions", {}).get("hypothesis"))
            except (OSError, json.JSONDecodeError, AttributeError):
                seen.add(None)
    return seen.pop() if len(seen) == 1 else None


def main(args) -> int:
    results = read_results(args.dirs)
    old = B.load(args.file) if Path(args.file).is_file() else B.Baseline()
    entries = B.from_results(results, old)
    text = B.dump(entries, hypothesis_version(args.dirs))
    if args.update:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"wrote {len(entries)} entries to {args.file}")
    else:
        print(text)
    stale = old.stale(results)
    for e in stale:
        print(f"FIXED (no longer fails): {e.describe()}")
    return 0
