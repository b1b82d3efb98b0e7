"""`softmax-harness list`: every registered implementation, available or not.

Availability checks may import a framework (a CUDA probe asks torch or jax);
building the list does not.  Unknown globs or functions are usage errors.
"""

from __future__ import annotations

import json
import sys

from ..dtypes import SHORT
from . import argtypes

COLUMNS = ("id", "family", "function", "device", "dtypes", "available", "reason")


def register(sub) -> None:
    p = sub.add_parser("list", help="list registered implementations, their capabilities and availability")
    p.add_argument("--json", action="store_true", help="print a JSON array of objects instead of a table")
    p.add_argument("--impls", type=argtypes.csv_items, help="comma-separated globs of implementation ids")
    p.add_argument("--functions", type=argtypes.function_list, help="comma-separated functions")
    p.add_argument("--families", type=argtypes.csv_items, help="comma-separated families")
    p.add_argument("--available", action="store_true", help="only implementations available here")
    p.set_defaults(func=main)


def rows(args) -> list[dict]:
    from ..registry import select

    out = [impl.describe() for impl in select(args.impls, args.functions, getattr(args, "families", None))]
    if getattr(args, "available", False):
        out = [r for r in out if r["available"]]
    return out


def _cell(row: dict, col: str) -> str:
    v = row[col]
    if col == "dtypes":
        return ",".join(SHORT.get(d, d) for d in v)
    if col == "available":
        return "yes" if v else "no"
    return str(v)


def table(items: list[dict]) -> str:
    cells = [list(COLUMNS)] + [[_cell(r, c) for c in COLUMNS] for r in items]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + row[-1] for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def main(args) -> int:
    from ..registry import load_problems

    items = rows(args)
    for problem in load_problems():
        sys.stderr.write(f"softmax-harness list: warning: {problem}\n")
    if args.json:
        json.dump(items, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(table(items))
    avail = [r for r in items if r["available"]]
    print(f"\n{len(items)} implementations, {len(avail)} available, "
          f"{len({r['function'] for r in avail})} functions available")
    return 0
