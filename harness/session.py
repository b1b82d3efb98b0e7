"""The state of one pytest session of the conformance suite: the options,
validated up front (one UsageError each), where results go, the baseline,
the seed, and this process's results file.  It lives in ``config.stash``
under ``HARNESS`` (harness/plugin.py puts it there); the run's bookkeeping
(harness/run_ledger.py) and the summary (harness/summary.py) read it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pytest

if TYPE_CHECKING:
    from .records import Impl, Result
    from .run_ledger import Ledger

DEFAULT_RESULTS = "reports/out/results"
SUITE_ATTR = "softmax_harness_property"  # on each suite test: the property it runs (harness/suite)
DEFAULT_TEST_TIMEOUT = 900.0  # the slowest ci test takes about a minute; thorough ones several


class HarnessConfig:
    """Everything a conformance session decided from its options."""

    def __init__(self, config: pytest.Config):
        from oracles import DTYPE_NAMES

        from . import budgets
        from .errors import UsageError
        from .registry import split_csv
        from .special_values import GATES as CONVENTION_GATES

        opt = config.getoption
        winput = getattr(config, "workerinput", None)  # on an xdist worker: what the controller handed over
        self.impl_globs = split_csv(opt("--harness-impls"), "--harness-impls")
        self.functions = split_csv(opt("--harness-functions"), "--harness-functions")
        from .records import FUNCTIONS

        unknown = [f for f in self.functions or () if f not in FUNCTIONS]
        if unknown:  # said once here, not as a collection error in every conformance module
            raise UsageError(f"unknown function {unknown[0]!r} in --harness-functions; "
                             f"expected one of {', '.join(FUNCTIONS)}")
        self.dtypes = split_csv(opt("--harness-dtypes"), "--harness-dtypes") or list(DTYPE_NAMES)
        bad = [d for d in self.dtypes if d not in DTYPE_NAMES]
        if bad:
            raise UsageError(f"unknown dtype {bad[0]!r}; expected one of {', '.join(DTYPE_NAMES)}")
        self.budget = budgets.check(opt("--harness-budget") or budgets.from_env())
        self.conventions = opt("--harness-conventions")
        if self.conventions not in CONVENTION_GATES:
            raise UsageError(f"unknown --harness-conventions {self.conventions!r}; "
                             f"expected one of {', '.join(CONVENTION_GATES)}")
        self.gate = opt("--harness-gate")
        if self.gate not in ("bounded", "good"):
            raise UsageError(f"unknown gate {self.gate!r}; expected bounded or good")
        self.long_rows = opt("--harness-long-rows")
        from .sharding import Shard, parse

        shard = opt("--harness-shard")
        try:
            self.shard: Shard | None = parse(shard) if shard is not None else None
        except UsageError as e:
            raise UsageError(f"--harness-shard: {e}") from None
        self.suite_items = 0  # conformance tests collected before the shard's split (an empty shard: see plugin)
        self.env_id = opt("--harness-env-id") or os.environ.get("TOX_ENV_NAME") or os.uname().nodename
        results = Path(opt("--harness-results") or DEFAULT_RESULTS).resolve()  # where pytest started
        if results.exists() and not results.is_dir():
            raise UsageError(f"--harness-results {opt('--harness-results')} exists and is not a folder")
        self.env_dir = results / self.env_id
        self.compile_cache: str = opt("--harness-compile-cache") or str(results.parent / "compile-cache")
        if self.impl_globs:
            from .registry import select

            select(self.impl_globs, self.functions)  # a glob matching nothing: one line, not N collection errors
        # One session id and run folder for the controller and all its xdist workers.
        from .results_store import RUNS, new_run_id

        self.session: str = winput.get("harness_session") if winput else uuid.uuid4().hex
        self.run_id: str = winput.get("harness_run") if winput else new_run_id(self.session)
        self.run_dir = self.env_dir / RUNS / self.run_id
        self.ledger: Ledger | None = None  # the controller's run book, once conformance tests are collected
        self.decided = False  # xdist controller: whether a worker's collection has decided the run
        self.user_max_restart = getattr(config.option, "maxworkerrestart", None)
        from . import baseline as baseline_mod

        xf = opt("--harness-xfails-file")
        self.baseline = baseline_mod.load(xf) if xf else baseline_mod.Baseline([], None)
        self.worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.test_timeout = float(opt("--harness-test-timeout") or 0)
        if not self.test_timeout >= 0:  # negative (or nan) would silently disable the watchdog
            raise UsageError(f"--harness-test-timeout must be >= 0 seconds (0 = never), not {self.test_timeout:g}")
        from .seeding import choose_seed

        # xdist workers take the controller's (drawn) seed
        given = winput.get("harness_seed") if winput else opt("--harness-seed")
        self.seed = choose_seed(given, self.budget, handoff=True, option="--harness-seed")
        self._fh: TextIO | None = None

    def running_file(self, worker: str) -> Path:
        return self.run_dir / f"{worker}.running"

    def impls(self):
        from .registry import select

        return select(self.impl_globs, self.functions)

    def params(self, prop: str) -> list[tuple[Impl, str]]:
        """(implementation, dtype) of every test of property ``prop``: the
        selected implementations it applies to, in each selected dtype they take."""
        from .properties import applies

        return [(impl, dt) for impl in self.impls() if applies(prop, impl.function)
                for dt in impl.dtypes if dt in self.dtypes]

    def write(self, res: Result) -> None:
        if self._fh is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.run_dir / f"{self.worker}-{os.getpid()}.jsonl", "a", encoding="utf-8")
        self._fh.write(res.dumps() + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())


HARNESS = pytest.StashKey[HarnessConfig]()


def harness_of(config: pytest.Config) -> HarnessConfig | None:
    """The session's state, or None where the plugin did not configure one."""
    return config.stash.get(HARNESS, None)
