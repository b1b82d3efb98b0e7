"""Results on disk: every pytest session writes a run folder of its own, and
nothing ever deletes one (results are append-only).

Layout, under ``--harness-results`` (default ``reports/out/results``)::

    <env-id>/runs/<run-id>/
        env.json          the run record (written by the controller only): the
                          environment (``environment.env_record``), ``session``,
                          ``run_id``, ``started``, ``collected`` and ``reported``
                          (conformance tests), ``quarantined``; at the end either
                          ``finished`` (every collected conformance test reported)
                          or ``incomplete`` (why not), and ``ended``; a
                          shard's run also ``shard`` (``"K/N"``), ``shard_group``,
                          ``shard_tests``, ``selection_tests`` (harness/sharding.py)
        impls.json        ``Impl.describe()`` of every registered implementation
        <worker>-<pid>.jsonl  one ``Result`` per line; each process its own file
        <worker>.running  the test a worker is running (crash and timeout records)
        quarantine.json   implementations quarantined after QUARANTINE_AFTER
                          crashes (the controller writes it, workers read it)

The run id is the UTC start time and the session's first 8 hex digits
(``20260513T044512Z-3fa2c1d0``): unique, and sorted by start.  A folder with
``*.jsonl``/``env.json`` directly in it (a ``merge`` output, results of an
older harness) is one run.

Readers (``reports.load``, ``report``, ``merge``, ``baseline``, ``drift``) take
the newest *complete* run of each env (its record says ``finished``) and note
the newer runs they left out and why; with ``--all-runs`` they take every run.
Where no run is complete they take the newest, flagged as partial.
A shard's run (``shard: "K/N"``, harness/sharding.py) is complete as a shard
only: where the chosen run is one, readers take the other shards of the same
sharded run in the folder too, and ``merge`` makes one run of them
(reports/shards.py).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

RUNS = "runs"
QUARANTINE_AFTER = 2  # crashes (or timeouts) of one implementation in a run before its other tests are not run
QUARANTINE_FILE = "quarantine.json"


def new_run_id(session: str, now: float | None = None) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + session[:8]


def read_record(folder: Path) -> dict | None:
    """A run folder's env.json, or None where it is missing or unreadable."""
    try:
        rec = json.loads((Path(folder) / "env.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def write_json(path: Path, data) -> None:
    """Whole or not at all: a reader never sees half a record."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def is_run(folder: Path) -> bool:
    return any(folder.glob("*.jsonl")) or (folder / "env.json").is_file() or (folder / "impls.json").is_file()


def has_runs(folder: Path) -> bool:
    return (folder / RUNS).is_dir()


def runs_of(env_dir: Path) -> list[Path]:
    """Every run of an env folder, oldest first (a flat folder is one run)."""
    env_dir = Path(env_dir)
    found = [env_dir] if is_run(env_dir) else []
    if has_runs(env_dir):
        found += [p for p in env_dir.joinpath(RUNS).iterdir() if p.is_dir() and is_run(p)]

    def started(p: Path):
        rec = read_record(p) or {}
        s = rec.get("started")
        return (s if isinstance(s, (int, float)) else p.stat().st_mtime, p.name)

    return sorted(found, key=started)


def why_not_complete(rec: dict | None) -> str:
    if rec is None:
        return "no run record (env.json)"
    if rec.get("incomplete"):
        return f"incomplete: {rec['incomplete']}"
    return "no end record (still running, or its controller was killed)"


def select_runs(env_dir: Path, all_runs: bool = False) -> list[tuple[Path, list[str]]]:
    """The runs a reader takes from ``env_dir``, each with notes on newer
    runs left out (see the module docstring)."""
    runs = runs_of(env_dir)
    if not runs:
        return [(Path(env_dir), [])]
    if all_runs:
        return [(r, []) for r in runs]
    complete = [r for r in runs if (read_record(r) or {}).get("finished")]
    chosen = complete[-1] if complete else runs[-1]
    picked = _with_sibling_shards(runs, chosen)
    newer = [r for r in runs[runs.index(chosen) + 1:] if r not in picked]
    notes = [f"newer run {r.name} not shown ({why_not_complete(read_record(r))}); --all-runs shows it"
             for r in newer]
    return [(r, notes if r == chosen else []) for r in picked]


def _with_sibling_shards(runs: list[Path], chosen: Path) -> list[Path]:
    """``chosen``, and where it is one shard of a sharded run (harness/sharding.py),
    the other shards of that run in this env folder (N jobs on one machine
    into one results folder): of each K the newest complete run, else the newest."""
    rec = read_record(chosen) or {}
    if not rec.get("shard"):
        return [chosen]
    best: dict[str, tuple[Path, dict]] = {}
    for r in runs:  # oldest first
        other = read_record(r) or {}
        if other.get("shard_group") != rec.get("shard_group") or other.get("env_id") != rec.get("env_id"):
            continue
        k = str(other.get("shard"))
        if k not in best or other.get("finished") or not best[k][1].get("finished"):
            best[k] = (r, other)
    return sorted((r for r, _ in best.values()), key=runs.index)


def leaf_runs(path: Path, all_runs: bool = False) -> list[Path]:
    """The selected runs of every env folder at or below ``path``."""
    path = Path(path)
    if is_run(path) or has_runs(path):
        return [r for r, _ in select_runs(path, all_runs)]
    out: list[Path] = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and p.name != RUNS):
        out += leaf_runs(sub, all_runs)
    return out


def quarantined(run_dir: Path) -> dict:
    """impl id -> {"crashes": n} for the implementations quarantined in a run."""
    try:
        data = json.loads((run_dir / QUARANTINE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
