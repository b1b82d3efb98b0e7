"""`softmax-harness baseline --update DIR...`: rewrite the known-findings
baseline from a run (a deliberate change), keeping existing reasons."""

from __future__ import annotations

from pathlib import Path

from .. import baseline as B
from ..errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("baseline", help="show or rewrite the known-findings baseline from result folders")
    p.add_argument("dirs", nargs="+", help="result folders (reports/out/results/<env>)")
    p.add_argument("--file", default="baseline.toml", help="baseline file (default baseline.toml)")
    p.add_argument("--update", action="store_true", help="rewrite the file from these results")
    p.add_argument("--all-runs", action="store_true",
                   help="every run of each env (default: the newest complete run of each)")
    p.set_defaults(func=main)


def _runs(dirs: list[str], all_runs: bool) -> list[Path]:
    """The run folders under ``dirs``: the newest complete run of each env,
    or every run (harness/results_store.py)."""
    from ..results_store import leaf_runs

    out = []
    for d in dirs:
        p = Path(d)
        if not p.is_dir():
            raise UsageError(f"results folder {p} does not exist")
        out += leaf_runs(p, all_runs)
    return out


def read_results(dirs: list[str], all_runs: bool = False) -> list[B.Observed]:
    """Every result of the selected runs under ``dirs``, each with its run's
    fingerprint: the versions and CPU flags of env.json (where there is one).
    A line that is not a result is a usage error naming its file and line."""
    from ..records import Result, ResultError
    from ..results_store import read_record

    out = []
    for run in _runs(dirs, all_runs):
        env = read_record(run)  # once per run: every worker's file beside it shares it
        fp = {"versions": env.get("versions") or {}, "cpu": env.get("cpu")} if env else None
        for f in sorted(run.glob("*.jsonl")):
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                try:
                    r = Result.loads(line)
                except ResultError as e:
                    raise UsageError(f"{f}:{n}: {e}") from None
                out.append(B.Observed(r, fp))
    return out


def recorded(dirs: list[str], all_runs: bool = False) -> dict:
    """The environment the results were computed in (env.json): each package
    version and the CPU flags where every folder agrees; a package whose
    folders disagree is left out (unrecorded, so findings in it are
    environment-dependent)."""
    from ..results_store import read_record

    envs = [e for run in _runs(dirs, all_runs) if (e := read_record(run))]
    versions: dict = {}  # as env.json has them
    for pkg in sorted({k for e in envs for k in (e.get("versions") or {})}):
        seen = {(e.get("versions") or {}).get(pkg) for e in envs}
        if len(seen) == 1 and None not in seen:
            versions[pkg] = seen.pop()
    cpus = {tuple(e["cpu"]) for e in envs if e.get("cpu") is not None}
    out: dict = {"versions": versions}
    if len(cpus) == 1:
        out["cpu"] = list(cpus.pop())
    return out


def main(args) -> int:
    results = read_results(args.dirs, args.all_runs)
    old = B.load(args.file) if Path(args.file).is_file() else B.Baseline()
    entries = B.from_results(results, old)
    text = B.dump(entries, recorded(args.dirs, args.all_runs))
    if args.update:
        try:
            Path(args.file).write_text(text, encoding="utf-8")
        except OSError as e:
            raise UsageError(f"cannot write --file {args.file}: {e.strerror or e}") from None
        print(f"wrote {len(entries)} entries to {args.file}")
    else:
        print(text)
    for entry in old.stale(results):
        print(f"FIXED (no longer fails): {entry.describe()}")
    return 0
