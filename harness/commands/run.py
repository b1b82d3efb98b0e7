"""`softmax-harness run`: the whole conformance picture on one machine.

Runs the conformance suite under pytest-xdist once for the current process
(TensorFlow's oneDNN off) and once per per-process variant (TF oneDNN on,
each Keras backend, JAX x64), each into its own results folder, then renders one HTML report.  Each pytest
gets ``--harness-progress "K/N ENV"`` and reports its progress (harness/progress.py).  With
``--shard K/N`` each of those runs is shard K of N of its selection
(harness/sharding.py; ``merge`` of the N results folders is the whole run).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from importlib.resources import files
from pathlib import Path

from ..special_values import GATES
from . import argtypes

SUITE_PACKAGE = "harness.suite"  # the product suite ships in the package: any install, any folder

# (env id, environment overrides, implementation globs, module that must exist)
VARIANTS = [
    # main pins oneDNN off (quiet, comparable across CPUs); oneDNN on changes
    # TensorFlow's numerics and NaN handling, so it is a variant of its own.
    ("main", {"TF_ENABLE_ONEDNN_OPTS": "0"}, None, None),
    ("tf-onednn", {"TF_ENABLE_ONEDNN_OPTS": "1"}, "tf.*", "tensorflow"),
    ("keras-torch", {"KERAS_BACKEND": "torch"}, "keras.*", "torch"),
    ("keras-jax", {"KERAS_BACKEND": "jax"}, "keras.*", "jax"),
    ("keras-numpy", {"KERAS_BACKEND": "numpy"}, "keras.*", "keras"),
    ("jax-x64", {"JAX_ENABLE_X64": "1"}, "jax.*", "jax"),
]
# xdist's "load", not "loadgroup": under loadgroup every test of one function and dtype is one work
# unit, and after worker crashes its scheduler re-queued units that no live worker was given, so the
# session waited forever (a segfaulting, a hanging and a memory-hungry implementation beside 20
# healthy ones hung at 97%; the crash-storm self-test hangs the same way).
DIST = "load"
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def suite_dir() -> Path:
    """The installed suite's folder (editable or not): pytest needs real files."""
    from ..errors import UsageError

    path = Path(str(files(SUITE_PACKAGE)))
    if not (path / "test_properties.py").is_file():
        raise UsageError(f"the conformance suite {SUITE_PACKAGE} is not a folder of files at {path} "
                         "(install softmax-harness unzipped)")
    return path


def suite_args(suite: Path) -> list[str]:
    """pytest arguments that run the suite the same way from any folder.

    No configuration file (a pytest.ini or pyproject.toml above the user's
    folder or the install must not change the run); the rootdir is the folder
    holding ``harness``, so test ids read ``harness/suite/test_properties.py::test_<property>``
    in a checkout and in site-packages alike; conftest.py files outside the
    suite are not loaded."""
    return [str(suite), "-c", os.devnull, "--rootdir", str(suite.parents[1]), "--confcutdir", str(suite),
            "-p", "no:cacheprovider"]


def register(sub) -> None:
    p = sub.add_parser("run", help="run the conformance suite on every installed backend and write the report")
    p.add_argument("--impls", type=argtypes.csv_items, help="comma-separated globs of implementation ids")
    p.add_argument("--functions", type=argtypes.function_list, help="comma-separated functions")
    p.add_argument("--dtypes", type=argtypes.dtype_list, help="comma-separated dtypes")
    p.add_argument("--budget", "--profile", dest="budget", default="ci", type=argtypes.budget,
                   help="example budget: dev, ci, thorough or check (default ci; --profile is the old name)")
    p.add_argument("-n", dest="workers", default="auto", type=argtypes.workers,
                   help="pytest-xdist workers (default auto; 0 means 1: workers isolate crashes and hangs)")
    p.add_argument("--test-timeout", type=argtypes.non_negative_float, default=None,
                   help="seconds before a hung test is ended and recorded as timeout (default 900, 0 = never)")
    p.add_argument("--out", default="reports/out", help="output folder (results/ and index.html)")
    p.add_argument("--xfails-file", help="baseline of known findings")
    p.add_argument("--no-variants", action="store_true", help="only the current process's modes")
    p.add_argument("--long-rows", action="store_true", help="also rows up to 2**17 elements")
    p.add_argument("--seed", help="Hypothesis seed for every pytest run: N, or random (drawn once and printed); "
                                  "default a fixed seed (the ci budget is derandomized instead)")
    p.add_argument("--shard", type=argtypes.shard, metavar="K/N",
                   help="run shard K of N of each env's selection (for N CI jobs or machines; "
                        "`softmax-harness merge` of the N results folders is the whole run)")
    p.add_argument("--conventions", default="any", choices=GATES,
                   help="special-value convention to gate on: any (default), ieee, limit or masked")
    p.set_defaults(func=main)


def _validate(args) -> None:
    """What the parser cannot check: globs against the registry, the
    baseline's contents, the --out folder."""
    from ..errors import UsageError
    from ..registry import select

    select(args.impls, args.functions)  # a glob matching nothing: UsageError
    if args.xfails_file:
        from ..baseline import load

        load(args.xfails_file)  # every fault in it is a one-line usage error now, not after a run
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out} exists and is not a folder")


def main(args) -> int:
    from ..seeding import choose_seed

    _validate(args)
    seed = choose_seed(args.seed, args.budget)  # drawn once here, so every variant searches alike
    print(f"[run] {seed.describe()}", flush=True)
    if args.shard is not None and seed.random:
        print(f"[run] shard {args.shard}: give the other shards --seed {seed.value} too; shards that searched with "
              "different seeds are not one run, and merge keeps them apart", flush=True)
    from ..registry import EXTRA_ENV, absolute_targets

    # Every path the user gave is read against their folder, once, here: the
    # pytest runs and every reproducer they write then work from anywhere.
    out = Path(args.out).resolve()
    results = out / "results"
    xfails = str(Path(args.xfails_file).resolve()) if args.xfails_file else None
    suite = suite_dir()
    extra = {EXTRA_ENV: absolute_targets(os.environ[EXTRA_ENV])} if os.environ.get(EXTRA_ENV) else {}
    began = time.time()  # runs recorded after this are this invocation's (see _this_run)
    codes = {}
    from ..progress import clock as _clock

    plan = _plan(args)
    for k, (env_id, overrides, impls) in enumerate(plan, 1):
        cmd = [sys.executable, "-m", "pytest", *suite_args(suite), "-q", "--no-header",
               "-rN", "-n", "1" if args.workers == "0" else str(args.workers), "--dist", DIST,
               # the progress line replaces pytest's dots and its per-variant percentage
               "-o", "console_output_style=classic", "--harness-progress", f"{k}/{len(plan)} {env_id}",
               "--harness-budget", args.budget,
               "--harness-results", str(results), "--harness-env-id", env_id]
        for opt, val in (("impls", impls), ("functions", _csv(args.functions)), ("dtypes", _csv(args.dtypes)),
                         ("xfails-file", xfails), ("test-timeout", args.test_timeout), ("seed", seed.option()),
                         ("shard", args.shard),
                         ("conventions", None if args.conventions == "any" else args.conventions)):
            if val is not None and val != "":
                cmd += [f"--harness-{opt}", str(val)]
        if args.long_rows:
            cmd.append("--harness-long-rows")
        env = {**os.environ, **QUIET, **extra, **overrides}
        print(f"[run] variant {k}/{len(plan)} {env_id}: "
              f"{' '.join(f'{name}={val}' for name, val in overrides.items()) or 'default modes'} "
              f"({_clock(time.time() - began)} since the start)", flush=True)
        # In the user's folder, as `python -m pytest` would be: their `pkg.mod:callable`
        # targets import from it and the example database lives in it, as for `check`.
        codes[env_id] = subprocess.call(cmd, env=env)
    print(f"[run] rendering the report ({_clock(time.time() - began)} since the start)", flush=True)
    report = out / "index.html"
    mine = {env_id: _this_run(results / env_id, began) for env_id in codes}
    try:
        from reports.render import render

        # This invocation's runs, complete or not; other envs' folders: their newest complete run.
        envs = sorted(p for p in results.iterdir() if p.is_dir()) if results.is_dir() else []
        render([mine.get(p.name) or p for p in envs], report, baseline=xfails)  # its fixed entries on the first screen
        print(f"[run] report: {report.resolve()}")
    except ImportError as e:
        print(f"[run] report not rendered: {e}")
        return 3
    finally:
        _print_time_split(mine)  # rendered or not
    return _final_summary(codes, mine)


def _plan(args) -> list[tuple[str, dict, str | None]]:
    """The variants this invocation runs, in order: (env id, overrides, impls option)."""
    plan = []
    for env_id, overrides, globs, needs in VARIANTS[:1] if args.no_variants else VARIANTS:
        if needs and importlib.util.find_spec(needs) is None:
            print(f"[run] {env_id}: skipped, {needs} not installed (its implementations are reported unavailable "
                  f"in the main run)")
            continue
        impls = _csv(args.impls) if env_id == "main" else _intersect(args.impls, globs)
        if impls is None and env_id != "main":
            continue
        plan.append((env_id, overrides, impls))
    return plan


def _print_time_split(mine: dict[str, Path | None]) -> None:
    """Where this invocation's test time went, every variant together."""
    from ..summary import read_run, time_split

    split = time_split([r for run in mine.values() if run is not None for r in read_run(run)])
    if split:
        print(f"[run] {split}")


def _this_run(env_dir: Path, began: float) -> Path | None:
    """The run a pytest call of this invocation wrote into ``env_dir``."""
    from ..results_store import read_record, runs_of

    runs = [r for r in runs_of(env_dir) if ((read_record(r) or {}).get("started") or 0) >= began]
    return runs[-1] if runs else None


def _final_summary(codes: dict[str, int], mine: dict[str, Path | None]) -> int:
    """Print what each env's run found, what was incomplete and why, and the
    exit status: 3 when a run is incomplete or pytest did not complete, else
    1 with non-conformant findings, else 0."""
    from ..results_store import read_record, why_not_complete

    incomplete, empty = {}, []
    for env_id, code in codes.items():
        rec = read_record(mine[env_id]) if mine[env_id] else None
        if rec is None:
            incomplete[env_id] = f"no run record (pytest exit {code}; no conformance test collected?)"
        elif not rec.get("finished"):
            incomplete[env_id] = rec.get("incomplete") or why_not_complete(rec)
        if rec is not None and rec.get("shard_empty"):
            empty.append(env_id)
            print(f"[run] {env_id}: {rec['shard_empty']}")
        for impl, q in sorted(((rec or {}).get("quarantined") or {}).items()):
            print(f"[run] {env_id}: {impl} quarantined after {q['crashes']} crashes; its other tests were "
                  f"recorded as crash, not run")
    for env_id, why in incomplete.items():
        print(f"[run] incomplete: {env_id}: {why}")
    bad = {k: v for k, v in codes.items() if v not in (0, 1)}
    if bad:
        print(f"[run] pytest did not complete in: {', '.join(f'{k} (exit {v})' for k, v in bad.items())}")
    if bad or incomplete:
        return 3
    failing = [k for k, v in codes.items() if v == 1]
    ran = [k for k in codes if k not in empty]
    # "all conformant" of an empty shard would claim work that was not done
    verdict = (f"non-conformant findings in: {', '.join(failing)}" if failing else
               "all conformant" if ran else "nothing run: every env's shard was empty")
    print(f"[run] {verdict}")
    return 1 if failing else 0


def _csv(items: list[str] | None) -> str | None:
    """A parsed list option as the pytest option it is passed on as."""
    return ",".join(items) if items else None


def _intersect(user: list[str] | None, variant: str) -> str | None:
    """A variant re-runs only its own family; with user globs, only if they
    could select it."""
    if not user:
        return variant
    prefix = variant.rstrip("*")
    keep = [g for g in user if g.startswith(prefix) or g.startswith("*")]
    return ",".join(keep) if keep else None
