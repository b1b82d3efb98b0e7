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
``<worker>.running`` and arms a watchdog (``faulthandler``, ``--harness-test-timeout``
seconds) that ends a hung worker.  When xdist reports a worker lost mid-test,
the controller records a ``crash`` or ``timeout`` Result for that test from the
note, xdist starts a fresh worker, and every other result stands.  In a
conformance session the plugin raises xdist's limit on worker restarts (4 per
worker) by the number of conformance tests collected, unless
``--max-worker-restart`` is given, and an implementation that crashed
``QUARANTINE_AFTER`` times is quarantined: its remaining tests record
``crash`` without running.  Without xdist there is no isolation
(``softmax-harness run`` always uses workers).

Progress: ``--harness-progress 'K/N ENV'`` (given by ``softmax-harness run``
only) registers harness/progress.py's plugin in the controller: a live line
or a plain log instead of pytest's dots, and each new failure at once.

Sharding: ``--harness-shard K/N`` deselects (pytest's deselect hook) every
conformance test outside shard K of the split in harness/sharding.py; the
run record says which shard it is, and a shard left with no test of a
non-empty selection records that and exits 0 instead of pytest's 5.
"""

from __future__ import annotations

import faulthandler
import json
import os
import time

import pytest

from .session import DEFAULT_RESULTS, DEFAULT_TEST_TIMEOUT, HARNESS, SUITE_ATTR, HarnessConfig, harness_of


def pytest_addoption(parser):
    # Every option carries the --harness- prefix: the plugin is loaded into every pytest session
    # of the environment, and a bare --profile or --seed would collide with other plugins'.
    g = parser.getgroup("softmax-harness")
    g.addoption("--harness-impls", default=None, help="comma-separated globs of implementation ids")
    g.addoption("--harness-functions", default=None, help="comma-separated functions (softmax, log_softmax, ...)")
    g.addoption("--harness-dtypes", default=None, help="comma-separated dtypes: float16,bfloat16,float32,float64")
    g.addoption("--harness-budget", default=None,
                help="example budget: dev, ci, thorough, check (env SOFTMAX_HARNESS_BUDGET; default dev)")
    g.addoption("--harness-results", default=None, help=f"results folder (default {DEFAULT_RESULTS})")
    g.addoption("--harness-env-id", default=None, help="environment label (default: tox env name or hostname)")
    g.addoption("--harness-conventions", default="any",
                help="special-value convention to gate on: any (default: every recognised convention, followed "
                     "consistently, passes), ieee, limit or masked")
    g.addoption("--harness-xfails-file", default=None, help="baseline of known findings (TOML)")
    g.addoption("--harness-gate", default="bounded",
                help="'bounded' fails on out-of-bound and worse; 'good' also on bounded")
    g.addoption("--harness-long-rows", action="store_true", help="include rows up to 2**17 elements")
    g.addoption("--harness-test-timeout", type=float, default=DEFAULT_TEST_TIMEOUT,
                help="under xdist, a test running longer ends its worker and is recorded as timeout "
                     f"(seconds, 0 = never; default {DEFAULT_TEST_TIMEOUT:g})")
    g.addoption("--harness-shard", default=None, metavar="K/N",
                help="run shard K of N of the selection (harness/sharding.py); merge puts the N back together")
    g.addoption("--harness-compile-cache", default=None, metavar="DIR",
                help="JAX's persistent compilation cache folder, or 'off' (harness/compile_cache.py; "
                     "default compile-cache beside the results folder)")
    g.addoption("--harness-progress", default=None, metavar="'K/N ENV'",
                help="softmax-harness run's variant label: report progress as a live line or a plain log "
                     "(harness/progress.py) instead of pytest's dots")
    g.addoption("--harness-seed", default=None, help="Hypothesis seed: N, or random (drawn and printed; replays the "
                                             "example database); default a fixed seed (ci: derandomized)")


def pytest_configure(config):
    from .errors import UsageError

    try:
        config.stash[HARNESS] = HarnessConfig(config)
    except UsageError as e:
        raise pytest.UsageError(str(e)) from None
    from .progress import attach

    attach(config, config.getoption("--harness-progress"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist controller: every worker of this session shares its id."""
    h = harness_of(node.config)
    if h is not None:
        node.workerinput["harness_session"] = h.session
        node.workerinput["harness_run"] = h.run_id
        node.workerinput["harness_seed"] = h.seed.option()


def _announce(config, h: HarnessConfig) -> None:
    """The budget and seed, said once a session has collected conformance
    tests (a session without them sees nothing of the plugin)."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        shard = ""
        if h.shard is not None:
            from .sharding import record

            rec = record(h)
            shard = f", shard {h.shard} ({rec['shard_tests']} of {rec['selection_tests']} tests)"
        tr.write_line(f"softmax-harness: budget {h.budget}, {h.seed.describe('--harness-seed')}{shard}")


def is_conformance_item(item) -> bool:
    """A conformance test: one the suite made for a registered property
    (harness/suite), parametrized here by implementation and dtype."""
    if not _is_suite_test(getattr(item, "function", None)):
        return False
    from .records import Impl

    params = getattr(getattr(item, "callspec", None), "params", {})
    return isinstance(params.get("impl"), Impl)  # not the placeholder of an empty parametrisation


def pytest_collection_finish(session):
    """Without xdist: this process is the controller (xdist's controller
    collects nothing and never gets here; its workers leave records alone)."""
    h = harness_of(session.config)
    if h is None or hasattr(session.config, "workerinput") or session.config.option.collectonly:
        return
    ids = [i.nodeid for i in session.items if is_conformance_item(i)]
    if ids:
        from .progress import begin
        from .run_ledger import Ledger

        _announce(session.config, h)
        h.ledger = Ledger(h, ids, session.config)
        begin(session.config, ids, h)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    """xdist controller: the first worker's collection starts the run."""
    h = harness_of(node.config)
    if h is None or h.ledger is not None or h.decided:
        return
    h.decided = True
    from .run_ledger import Ledger, conformance_ids

    conf = conformance_ids(h, ids)
    if not conf:
        return
    from .progress import begin

    _announce(node.config, h)
    h.ledger = Ledger(h, conf, node.config)
    begin(node.config, conf, h)
    ds = node.config.pluginmanager.getplugin("dsession")
    if h.user_max_restart is None and getattr(ds, "_max_worker_restart", None) is not None:
        # xdist stops after 4 restarts per worker; every crash after collection uses up a test, so
        # this many always lets every healthy test run (a collection that crashes still stops early).
        ds._max_worker_restart += len(conf)


def pytest_unconfigure(config):
    h = harness_of(config)
    if h is None:
        return
    if h._fh is not None:
        h._fh.close()


@pytest.hookimpl(trylast=True)  # after -k/-m: a shard holds what is left of those
def pytest_collection_modifyitems(session, config, items):
    """Conformance tests grouped by implementation (sharding.by_implementation);
    ``--harness-shard K/N``: keep this shard's, deselect the rest (through
    pytest's hook, so they are counted as deselected)."""
    h = harness_of(config)
    if h is None:
        return
    from .sharding import by_implementation

    items[:] = by_implementation(items, is_conformance_item)
    conf = [i for i in items if is_conformance_item(i)]
    if conf:  # before any test runs, hence before JAX compiles; a session without them is left alone
        from .compile_cache import enable

        enable(h.compile_cache)
    if h.shard is None or not conf:
        return
    from .sharding import assign, item_key, selection

    where = assign(selection(h), h.shard.n)
    drop = [i for i in conf if where.get(item_key(i)) != h.shard.k]
    h.suite_items = len(conf)
    if hasattr(config, "workeroutput"):  # the xdist controller collects nothing: it learns the count from here
        config.workeroutput["harness_suite_items"] = len(conf)
    if drop:
        gone = set(drop)
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if i not in gone]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: a worker's collection count (it collects nothing itself)."""
    h = harness_of(node.config)
    if h is not None:
        h.suite_items = max(h.suite_items, (getattr(node, "workeroutput", None) or {}).get("harness_suite_items", 0))


def pytest_sessionfinish(session, exitstatus):
    h = harness_of(session.config)
    if h is None:
        return
    if h.ledger is None and _empty_shard(session.config, h, exitstatus):
        # Neither pytest's "no tests collected" (exit 5, a failure in CI) nor a silent pass:
        # a finished run record that says this shard held nothing, and a line in the summary.
        from .run_ledger import Ledger

        h.ledger = Ledger(h, [], session.config, empty=f"shard {h.shard} holds no work of this selection "
                                                        f"({h.suite_items} tests in all)")
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK
    if h.ledger is not None:
        h.ledger.finish(session, exitstatus)


def _empty_shard(config, h: HarnessConfig, exitstatus) -> bool:
    """The controller of a shard whose split left no conformance test, of a
    selection that had some (an empty selection stays what it always was),
    in a session that ended normally (not interrupted, not a collection error)."""
    return (h.shard is not None and h.suite_items > 0 and not hasattr(config, "workerinput")
            and not config.option.collectonly and int(exitstatus) in (0, 1, 5))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Under xdist: note the running test and arm the hang watchdog."""
    h = harness_of(item.config)
    params = getattr(getattr(item, "callspec", None), "params", {})
    if h is None or not hasattr(item.config, "workerinput") or not is_conformance_item(item):
        yield
        return
    note = {"nodeid": item.nodeid, "path": str(item.path), "impl": params["impl"].id, "dtype": params.get("dtype"),
            "property": getattr(item.function, SUITE_ATTR, None), "start": time.time(), "pid": os.getpid(),
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
    """The suite's tests (one per registered property) run for every selected
    implementation the property applies to, in each selected dtype it takes.
    Other tests, whatever their fixtures, are left alone."""
    if not _is_suite_test(metafunc.function):
        return
    h = metafunc.config.stash[HARNESS]
    params, ids = [], []
    for impl, dt in h.params(getattr(metafunc.function, SUITE_ATTR)):
        params.append(pytest.param(impl, dt, marks=pytest.mark.xdist_group(f"{impl.function}-{dt}")))
        ids.append(f"{impl.id}-{dt}")
    metafunc.parametrize(("impl", "dtype"), params, ids=ids)


def _is_suite_test(fn) -> bool:
    """A test harness/suite made from the property registry (it carries the
    property's name under an attribute no other test has)."""
    return isinstance(getattr(fn, SUITE_ATTR, None), str)


@pytest.fixture
def conformance(request):
    from .gatekeeper import Conformance

    return Conformance(request.config.stash[HARNESS])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    h = harness_of(config)
    if h is not None and not hasattr(config, "workerinput") and h.ledger is not None:
        from .summary import terminal_summary

        terminal_summary(terminalreporter, h)
