"""Compare two results folders field by field (issue 13: a refactor changes no verdict).

    python tools/compare_results.py GOLDEN_DIR NEW_DIR [--ignore FIELD ...] [--env-rename OLD=NEW ...]

Each folder is searched for ``*.jsonl`` result files (a results folder, an
env folder or one run).  Results are keyed by (env, impl, property, dtype, special-value class,
case id);
every field must be equal except those that record when, how long and
where (``duration``, ``call_seconds``, ``time``, the xdist worker in ``env``) and any named
with ``--ignore`` (``known`` after a
baseline change, say).  Prints each difference and exits 1 if there is any,
2 on unusable input."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TIMING = ("duration", "call_seconds", "time")  # harness.records.Result.TIMING, kept standalone (test_compare_results)


def load(folder: Path, env_renames: dict[str, str] | None = None) -> dict[tuple, dict]:
    """(env, impl, property, dtype) -> result; a key seen twice is an error
    (two runs in one folder: point at one run)."""
    out: dict[tuple, dict] = {}
    for f in sorted(folder.rglob("*.jsonl")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if not line.strip():
                continue
            r = json.loads(line)
            env = r.get("env") if isinstance(r.get("env"), dict) else {"env_id": r.get("env")}
            # which worker ran it is scheduling; a renamed env key (a deliberate rename) reads as its new name
            r["env"] = {(env_renames or {}).get(k, k): v for k, v in env.items() if k != "worker"}
            # special_values writes one result per input class (and layout: row, batch)
            key = (r["env"].get("env_id"), r["impl"], r["property"], r["dtype"],
                   str((r.get("stats") or {}).get("input_class", "")), str(r.get("case_id", "")))
            if key in out:
                raise ValueError(f"{f}:{n}: {key} seen twice; give one run's folder")
            out[key] = r
    return out


def differences(old: dict, new: dict, ignore: set[str]) -> list[str]:
    """One line per difference between two keyed result sets."""
    lines = [f"only in golden: {k}" for k in sorted(old.keys() - new.keys(), key=str)]
    lines += [f"only in new: {k}" for k in sorted(new.keys() - old.keys(), key=str)]
    for k in sorted(old.keys() & new.keys(), key=str):
        a, b = old[k], new[k]
        for field in sorted((a.keys() | b.keys()) - ignore - set(TIMING)):
            if a.get(field) != b.get(field):
                lines.append(f"{k} {field}: {str(a.get(field))[:120]!r} -> {str(b.get(field))[:120]!r}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("golden", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--ignore", action="append", default=[], help="a field not to compare (repeatable)")
    ap.add_argument("--env-rename", action="append", default=[], metavar="OLD=NEW",
                    help="read the golden's env key OLD as NEW (a deliberate rename; repeatable)")
    a = ap.parse_args(argv)
    bad = [r for r in a.env_rename if r.count("=") != 1 or not all(r.split("="))]
    if bad:
        print(f"compare_results: --env-rename takes OLD=NEW, not {bad[0]!r}", file=sys.stderr)
        return 2
    try:
        old, new = load(a.golden, dict(r.split("=") for r in a.env_rename)), load(a.new)
    except (OSError, ValueError, KeyError) as e:
        print(f"compare_results: {e}", file=sys.stderr)
        return 2
    if not old:
        print(f"compare_results: no results under {a.golden}", file=sys.stderr)
        return 2
    diff = differences(old, new, set(a.ignore))
    print("\n".join(diff) if diff else f"identical: {len(old)} results")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
