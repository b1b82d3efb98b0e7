"""pytest plugin (entry point ``pytest11``): options, parametrisation of the
conformance suite by implementation and dtype, results as JSON Lines, and the
known-findings baseline.

Results: every session writes a run folder of its own,
``<results>/<env-id>/runs/<run-id>/`` (layout and readers: harness/results_store.py),
and never deletes anything.  Every process (each xdist worker, or the single
process) appends to its own ``<worker>-<pid>.jsonl`` there, flushed and
fsync'ed after each line, so a worker killed with ``kill -9`` loses only the
test it was running.  Only the controller (the single process without xdist)
writes the run record, ``env.json`` and ``impls.json``, and only once it knows
the session collected conformance tests (the self-tests and ``--collect-only``
write nothing); at the end it records ``finished`` or why the run is
``incomplete`` (harness/run_ledger.py) and reads the run's files to print the
summary and to report stale baseline entries.

Crashes and hangs: under xdist each worker notes the test it is running in
``<worker>.running`` and arms a watchdog (``faulthandler``, ``--test-timeout``
seconds) that ends a hung worker.  When xdist reports a worker lost mid-test,
the controller records a ``crash`` or ``timeout`` Result for that test from the
note, xdist starts a fresh worker, and every other result stands.  In a
conformance session the plugin raises xdist's limit on worker restarts (4 per
worker) by the number of conformance tests collected, unless
``--max-worker-restart`` is given, and an implementation that crashed
``QUARANTINE_AFTER`` times is quarantined: its remaining tests record
``crash`` without running.  Without xdist there is no isolation
(``softmax-harness run`` always uses workers).
"""

from __future__ import annotations

import faulthandler
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from . import baseline as baseline_mod
from .records import Impl, Result

DEFAULT_RESULTS = "reports/out/results"
DEFAULT_TEST_TIMEOUT = 900.0  # the slowest ci test takes about a minute; thorough ones several


def pytest_addoption(parser):
    g = parser.getgroup("softmax-harness")
    g.addoption("--impls", default=None, help="comma-separated globs of implementation ids")
    g.addoption("--functions", default=None, help="comma-separated functions (softmax, log_softmax, ...)")
    g.addoption("--dtypes", default=None, help="comma-separated dtypes: float16,bfloat16,float32,float64")
    g.addoption("--profile", default=None, help="Hypothesis profile: dev, ci, thorough (env SOFTMAX_HARNESS_PROFILE)")
    g.addoption("--results", default=None, help=f"results folder (default {DEFAULT_RESULTS})")
    g.addoption("--env-id", default=None, help="environment label (default: tox env name or hostname)")
    g.addoption("--conventions", default="any",
                help="special-value convention to gate on: any (default: every recognised convention, followed "
                     "consistently, passes), ieee, limit or masked")
    g.addoption("--xfails-file", default=None, help="baseline of known findings (TOML)")
    g.addoption("--gate", default="bounded", help="'bounded' fails on out-of-bound and worse; 'good' also on bounded")
    g.addoption("--long-rows", action="store_true", help="include rows up to 2**17 elements")
    g.addoption("--test-timeout", type=float, default=DEFAULT_TEST_TIMEOUT,
                help="under xdist, a test running longer ends its worker and is recorded as timeout "
                     f"(seconds, 0 = never; default {DEFAULT_TEST_TIMEOUT:g})")
    g.addoption("--seed", default=None, help="Hypothesis seed: N, or random (drawn and printed; replays the "
                                             "example database); default a fixed seed (ci: derandomized)")


class HarnessConfig:
    def __init__(self, config):
        from oracles import DTYPE_NAMES

        from .conformance import PROFILE_ENV
        from .conformance import PROFILES as HYP
        from .errors import UsageError
        from .registry import split_csv
        from .special_values import GATES as CONVENTION_GATES

        opt = config.getoption
        self.impl_globs = split_csv(opt("--impls"), "--impls")
        self.functions = split_csv(opt("--functions"), "--functions")
        from .records import FUNCTIONS

        unknown = [f for f in self.functions or () if f not in FUNCTIONS]
        if unknown:  # said once here, not as a collection error in every conformance module
            raise UsageError(f"unknown function {unknown[0]!r} in --functions; expected one of {', '.join(FUNCTIONS)}")
        self.dtypes = split_csv(opt("--dtypes"), "--dtypes") or list(DTYPE_NAMES)
        bad = [d for d in self.dtypes if d not in DTYPE_NAMES]
        if bad:
            raise UsageError(f"unknown dtype {bad[0]!r}; expected one of {', '.join(DTYPE_NAMES)}")
        self.profile = opt("--profile") or os.environ.get(PROFILE_ENV, "dev")
        if self.profile not in HYP:
            raise UsageError(f"unknown profile {self.profile!r}; expected one of {', '.join(HYP)}")
        self.conventions = opt("--conventions")
        if self.conventions not in CONVENTION_GATES:
            raise UsageError(f"unknown --conventions {self.conventions!r}; "
                             f"expected one of {', '.join(CONVENTION_GATES)}")
        self.gate = opt("--gate")
        if self.gate not in ("bounded", "good"):
            raise UsageError(f"unknown gate {self.gate!r}; expected bounded or good")
        self.long_rows = opt("--long-rows")
        self.env_id = opt("--env-id") or os.environ.get("TOX_ENV_NAME") or os.uname().nodename
        results = Path(opt("--results") or DEFAULT_RESULTS).resolve()  # where pytest started
        if results.exists() and not results.is_dir():
            raise UsageError(f"--results {opt('--results')} exists and is not a folder")
        self.env_dir = results / self.env_id
        if self.impl_globs:
            from .registry import select

            select(self.impl_globs, self.functions)  # a glob matching nothing: one line, not N collection errors
        self.run_dir = self.env_dir  # set per session in pytest_configure (runs/<run-id>)
        self.ledger = None  # the controller's run book, once conformance tests are collected
        xf = opt("--xfails-file")
        self.baseline = baseline_mod.load(xf) if xf else baseline_mod.Baseline([], None)
        self.worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.test_timeout = float(opt("--test-timeout") or 0)
        if not self.test_timeout >= 0:  # negative (or nan) would silently disable the watchdog
            raise UsageError(f"--test-timeout must be >= 0 seconds (0 = never), not {opt('--test-timeout'):g}")
        from .seeding import choose_seed

        winput = getattr(config, "workerinput", None)  # xdist workers take the controller's (drawn) seed
        self.seed = choose_seed(winput.get("harness_seed") if winput else opt("--seed"), self.profile, handoff=True)
        self._fh = None

    def running_file(self, worker: str) -> Path:
        return self.run_dir / f"{worker}.running"

    def impls(self):
        from .registry import select

        return select(self.impl_globs, self.functions)

    def write(self, res: Result) -> None:
        if self._fh is None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.run_dir / f"{self.worker}-{os.getpid()}.jsonl", "a", encoding="utf-8")
        self._fh.write(res.dumps() + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())


def pytest_configure(config):
    from .errors import UsageError

    try:
        config._harness = HarnessConfig(config)
    except UsageError as e:
        raise pytest.UsageError(str(e)) from None
    winput = getattr(config, "workerinput", None)
    h = config._harness
    h.session = winput.get("harness_session") if winput else uuid.uuid4().hex
    from .results_store import RUNS, new_run_id

    h.run_id = winput.get("harness_run") if winput else new_run_id(h.session)
    h.run_dir = h.env_dir / RUNS / h.run_id
    h.user_max_restart = getattr(config.option, "maxworkerrestart", None)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: every worker of this session shares its id."""
    h = getattr(node.config, "_harness", None)
    if h is not None:
        node.workerinput["harness_session"] = h.session
        node.workerinput["harness_run"] = h.run_id
        node.workerinput["harness_seed"] = h.seed.option()


def pytest_report_header(config):
    h = getattr(config, "_harness", None)
    return f"softmax-harness: profile {h.profile}, {h.seed.describe()}" if h is not None else None


def is_conformance_item(item) -> bool:
    """A conformance test: one that takes an ``Impl`` and the ``conformance``
    fixture (self-tests parametrized over Impl objects are not)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return isinstance(params.get("impl"), Impl) and "conformance" in getattr(item, "fixturenames", ())


def pytest_collection_finish(session):
    """Without xdist: this process is the controller (xdist's controller
    collects nothing and never gets here; its workers leave records alone)."""
    h = getattr(session.config, "_harness", None)
    if h is None or hasattr(session.config, "workerinput") or session.config.option.collectonly:
        return
    ids = [i.nodeid for i in session.items if is_conformance_item(i)]
    if ids:
        from .run_ledger import Ledger

        h.ledger = Ledger(h, ids, session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """xdist controller: the first worker's collection starts the run."""
    h = getattr(node.config, "_harness", None)
    if h is None or h.ledger is not None or getattr(h, "_decided", False):
        return
    h._decided = True
    from .run_ledger import Ledger, conformance_ids

    conf = conformance_ids(h, ids)
    if not conf:
        return
    h.ledger = Ledger(h, conf, node.config)
    ds = node.config.pluginmanager.getplugin("dsession")
    if h.user_max_restart is None and getattr(ds, "_max_worker_restart", None) is not None:
        # xdist stops after 4 restarts per worker; every crash after collection uses up a test, so
        # this many always lets every healthy test run (a collection that crashes still stops early).
        ds._max_worker_restart += len(conf)


def pytest_unconfigure(config):
    h = getattr(config, "_harness", None)
    if h is None:
        return
    if h._fh is not None:
        h._fh.close()


def pytest_sessionfinish(session, exitstatus):
    h = getattr(session.config, "_harness", None)
    if h is not None and h.ledger is not None:
        h.ledger.finish(session, exitstatus)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Under xdist: note the running test and arm the hang watchdog."""
    h = getattr(item.config, "_harness", None)
    params = getattr(getattr(item, "callspec", None), "params", {})
    if h is None or not hasattr(item.config, "workerinput") or not is_conformance_item(item):
        yield
        return
    note = {"nodeid": item.nodeid, "path": str(item.path), "impl": params["impl"].id, "dtype": params.get("dtype"),
            "property": getattr(item.function, "PROPERTY", None), "start": time.time(), "pid": os.getpid(),
            "timeout": h.test_timeout}
    h.run_dir.mkdir(parents=True, exist_ok=True)
    h.running_file(h.worker).write_text(json.dumps(note), encoding="utf-8")
    if h.test_timeout > 0:
        faulthandler.dump_traceback_later(h.test_timeout, exit=True)
    try:
        yield
    finally:
        if h.test_timeout > 0:
            faulthandler.cancel_dump_traceback_later()
        h.running_file(h.worker).unlink(missing_ok=True)


def pytest_generate_tests(metafunc):
    """Conformance tests take ``impl`` and ``dtype``; the test's PROPERTY
    (harness/suite) decides which implementations it applies to."""
    if not {"impl", "dtype"} <= set(metafunc.fixturenames):
        return
    from .properties import applies

    h = metafunc.config._harness
    prop = getattr(metafunc.function, "PROPERTY", None)
    params, ids = [], []
    for impl in h.impls():
        if prop and prop in _PROPS() and not applies(prop, impl.function):
            continue
        for dt in impl.dtypes:
            if dt in h.dtypes:
                params.append(pytest.param(impl, dt, marks=pytest.mark.xdist_group(f"{impl.function}-{dt}")))
                ids.append(f"{impl.id}-{dt}")
    metafunc.parametrize(("impl", "dtype"), params, ids=ids)


def _PROPS():
    from .properties import PROPERTIES

    return PROPERTIES


class Conformance:
    """What a conformance test calls: run a property, record, gate."""

    def __init__(self, h: HarnessConfig):
        self.h = h

    def env(self, impl) -> dict:
        return {"env_id": self.h.env_id, "profile": self.h.profile, "worker": self.h.worker}

    def unavailable(self, impl, dtype: str, prop: str) -> bool:
        ok, reason = impl.availability()
        if ok:
            return False
        self.h.write(Result(impl.id, impl.family, impl.function, prop, dtype, "-", "unavailable",
                            message=reason, device=impl.device, env=self.env(impl)))
        pytest.skip(f"unavailable: {reason}")
        return True

    def check(self, impl, dtype: str, prop: str) -> Result:
        from .conformance import explore
        from .results_store import quarantined

        q = quarantined(self.h.run_dir).get(impl.id)
        if q:  # crashed too often in this run: recorded, not run
            from .run_ledger import quarantine_result

            return self.gate(quarantine_result(self.h, impl, dtype, prop, q["crashes"], self.env(impl)))
        self.unavailable(impl, dtype, prop)
        if prop == "special_values":
            from .conformance import special_values

            results = special_values(impl, dtype, self.env(impl), self.h.conventions)
            for r in results[:-1]:
                self._write_or_known(r)
            return self.gate(results[-1], others=results[:-1])
        res = explore(impl, dtype, prop, self.h.profile, self.h.gate, self.h.long_rows, env=self.env(impl),
                      seed=self.h.seed.value, database=self.h.seed.random)
        return self.gate(res)

    def _write_or_known(self, res: Result) -> None:
        from . import policy

        if not policy.passes(res.verdict, self.h.gate):
            res.known = self.h.baseline.classify(res)
        self.h.write(res)

    def gate(self, res: Result, others: list | None = None) -> Result:
        from . import policy

        failing = [r for r in (others or []) if not policy.passes(r.verdict, self.h.gate) and not r.known]
        if failing and policy.passes(res.verdict, self.h.gate):
            self.h.write(res)
            pytest.fail("\n".join(_failure_text(r) for r in failing), pytrace=False)
        if not policy.passes(res.verdict, self.h.gate):
            res.known = self.h.baseline.classify(res)
            if res.known is not None:
                self.h.write(res)
                pytest.xfail(f"known: {res.known} [{res.verdict}] {res.message}")
            self.h.write(res)
            pytest.fail(_failure_text(res), pytrace=False)
        self.h.write(res)
        return res


def _failure_text(res: Result) -> str:
    lines = [f"{res.impl} {res.function} {res.dtype} {res.property}: {res.verdict} (regime {res.regime})",
             f"  {res.message}"]
    if res.case:
        from .records import Case

        lines.append(f"  minimal case: {Case.from_json(res.case).short(12)}")
    if res.reproducer:
        lines.append(f"  reproduce: {res.reproducer[:600]}")
    if res.hypothesis and res.hypothesis.get("blob"):
        lines.append(f"  hypothesis: @reproduce_failure({res.hypothesis['blob']})")
    return "\n".join(lines)


@pytest.fixture
def conformance(request) -> Conformance:
    return Conformance(request.config._harness)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    h = getattr(config, "_harness", None)
    if h is not None and not hasattr(config, "workerinput") and h.ledger is not None:
        from .summary import terminal_summary

        terminal_summary(terminalreporter, h)
