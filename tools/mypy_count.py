"""Run mypy once over oracles/ and harness/ (the files and settings of
[tool.mypy] in pyproject.toml), print the error count of each file and the
total, and fail if a core module has any error.

    python tools/mypy_count.py          # counts; the core modules' errors in full
    python tools/mypy_count.py --all    # every error in full

Exit 0: no error in the core (errors elsewhere are counted, not fatal);
1: a core module has errors; 2: mypy itself did not run to a result.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Files (or folders, ending in "/") that must stay free of mypy errors.
# harness/records.py and harness/judging.py belong here once their rewrite lands.
CORE = (
    "oracles/",
    "harness/ulp.py",
    "harness/policy.py",
    "harness/policy_local.py",
    "harness/budget_arrays.py",
    "harness/dtypes.py",
    "harness/errors.py",
    "harness/modes.py",
    "harness/records.py",
    "harness/judging.py",
    "harness/properties/",
    "harness/session.py",
    "harness/plugin.py",
    "harness/gatekeeper.py",
    "harness/verdicts.py",
    "harness/functions.py",
    "harness/budgets.py",
    "harness/arrays.py",
)

ERROR = re.compile(r"^(?P<path>[^:\s][^:]*):\d+(?::\d+)?: error: ")


def is_core(path: str) -> bool:
    return any(path.startswith(c) if c.endswith("/") else path == c for c in CORE)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="print every error, not only the core's")
    args = ap.parse_args(argv)
    missing = [c for c in CORE if not (ROOT / c).exists()]
    if missing:
        print(f"mypy_count: core paths not found: {', '.join(missing)}")
        return 2
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-pretty", "--no-error-summary"],
                          cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        print(proc.stdout + proc.stderr)
        print(f"mypy_count: mypy exited {proc.returncode}")
        return 2
    counts: Counter[str] = Counter()
    shown = []
    for line in proc.stdout.splitlines():
        m = ERROR.match(line)
        if m is None:
            continue
        path = m["path"].replace("\\", "/")
        counts[path] += 1
        if args.all or is_core(path):
            shown.append(line)
    if proc.returncode == 1 and not counts:
        print(proc.stdout + proc.stderr)
        print("mypy_count: mypy failed without an error line")
        return 2
    for line in shown:
        print(line)
    for path, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{n:5d}  {path}{'  (core)' if is_core(path) else ''}")
    core = sum(n for p, n in counts.items() if is_core(p))
    print(f"mypy: {sum(counts.values())} errors in {len(counts)} files of oracles/ and harness/, "
          f"{core} in the core ({took:.1f} s)")
    return 1 if core else 0


if __name__ == "__main__":
    sys.exit(main())
