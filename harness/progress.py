"""Progress of one ``softmax-harness run`` variant, in its pytest controller.

``run`` passes ``--harness-progress "K/N ENV"`` to each pytest it spawns; the
controller (never an xdist worker) then registers a ``Progress`` plugin that
counts reports as they arrive and says:

- on a terminal: one live line, redrawn every second, with the variant, the
  family being tested, tests done/total, new failures, known findings and an
  ETA; pytest's dots are blanked for conformance tests (they restarted at 0%
  for every variant and said nothing);
- otherwise (CI logs, pipes): a plain ``[run]`` line every ``INTERVAL``
  seconds and at each further 10% of the tests, so no stretch is silent for
  long, even while tests are collected or one test runs for minutes;
- in both: each new failure (failed, not covered by the baseline) as one line
  the moment it is reported, with its first lines (verdict, ulp), not only in
  pytest's failure section at the end of the variant.

Plain ``pytest`` sessions never pass the option and keep pytest's output.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time

import pytest

INTERVAL = 10.0  # seconds between plain log lines: a CI log is never silent for longer
LIVE_REFRESH = 1.0  # seconds between redraws of the live line (the ETA and the clock move)
STEP = 10  # percent: a plain log line at each further step as well


def clock(seconds: float) -> str:
    """``42s``, ``3m07s``, ``1h02m``."""
    s = int(round(max(seconds, 0)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def impl_of(nodeid: str) -> str | None:
    """The implementation id of a conformance test id ``...::test_<p>[<impl>-<dtype>]``."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    return nodeid[nodeid.index("[") + 1:-1].rpartition("-")[0] or None


class Progress:
    """Registered as a pytest plugin in the controller of a ``run`` variant."""

    def __init__(self, label: str, stream=None, live: bool | None = None):
        self.label = label
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.t0 = time.monotonic()
        self.t_begin: float | None = None  # when collection ended and tests started
        self.ids: set[str] = set()
        self.families: dict[str, str] = {}
        self.done: set[str] = set()
        self.new: set[str] = set()
        self.known = 0
        self.family = "-"
        self.logged_step = 0
        self.last_log = self.t0
        self.closed = False
        # a live line drawn before the first test collides with xdist's own "bringing up nodes..."
        # line (rewritten in place, then ended by a newline) and leaves both half-overwritten
        self.drawing = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._tick, name="softmax-harness-progress", daemon=True)
        self.thread.start()

    def begin(self, ids: list[str], families: dict[str, str]) -> None:
        """Collection is over: ``ids`` are the conformance tests to come."""
        with self.lock:
            self.ids, self.families = set(ids), families
            self.t_begin = time.monotonic()
        self._emit(force=True)

    def line(self) -> str:
        now = time.monotonic()
        head = f"variant {self.label}"
        if self.t_begin is None:
            return f"{head}: collecting tests ({clock(now - self.t0)})"
        total, done = len(self.ids), len(self.done)
        pct = 100 * done // total if total else 100
        eta = "?"
        if done and total > done:
            eta = clock((now - self.t_begin) / done * (total - done))
        elif total and done >= total:
            eta = "0s"
        return (f"{head}: {done}/{total} tests ({pct}%), {self.family}, {len(self.new)} new failure"
                f"{'' if len(self.new) == 1 else 's'}, {self.known} known, {clock(now - self.t0)} elapsed, ETA {eta}")

    # --- pytest hooks (the controller's: under xdist, the workers' reports arrive here) ---

    def pytest_runtest_logstart(self, nodeid, location) -> None:
        self.drawing = True
        impl = impl_of(nodeid)
        if impl is not None and nodeid in self.ids:
            self.family = self.families.get(impl) or impl.partition(".")[0]

    def pytest_runtest_logreport(self, report) -> None:
        if report.nodeid not in self.ids:
            return
        if report.failed and report.nodeid not in self.new:
            self.new.add(report.nodeid)
            self._say(self._failure(report))
        elif report.when == "call" and hasattr(report, "wasxfail"):
            self.known += 1
        if report.when in ("teardown", "???"):  # as run_ledger counts a test reported
            self.done.add(report.nodeid)
            self._emit()

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report, config):
        res = yield
        if res:  # the progress lines say it: no dot, no F (a run's session holds only the suite)
            cat, _letter, word = res
            return cat, "", word
        return res

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session):
        try:
            return (yield)
        finally:
            self.close()  # before pytest's failure section and the summary table

    def pytest_unconfigure(self, config) -> None:
        self.close()

    # --- output ---

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.stop.set()
        self.thread.join(timeout=2)
        if self.t_begin is not None:
            n, total = len(self.new), len(self.ids)
            with self.lock:
                self._write(f"[run] variant {self.label} done: {len(self.done)}/{total} tests in "
                            f"{clock(time.monotonic() - self.t0)}, {n} new failure{'' if n == 1 else 's'}, "
                            f"{self.known} known\n", clear=self.live)

    def _failure(self, report) -> str:
        # under xdist the text opens with "[gw0] linux -- Python ...": the gate's own lines follow
        text = [s.strip() for s in (report.longreprtext or "").splitlines()
                if s.strip() and not s.startswith("[gw")]
        what = " | ".join(text[:2]) or report.outcome
        if report.when == "???":
            what = "the worker died while running it (crash or timeout)"
        name = report.nodeid.rpartition("::")[2]
        return f"[run] NEW FAILURE ({len(self.new)}) in variant {self.label}: {name}: {what[:300]}"

    def _say(self, text: str) -> None:
        with self.lock:
            self._write(text + "\n", clear=self.live)
            if self.live:
                self._draw()

    def _emit(self, force: bool = False) -> None:
        """A plain log line when due: at each further STEP percent, or forced."""
        if self.live:
            with self.lock:
                self._draw()
            return
        total = len(self.ids)
        step = (100 * len(self.done) // total) // STEP if total else 0
        if force or step > self.logged_step:
            self.logged_step = max(step, self.logged_step)
            self._log()

    def _log(self) -> None:
        with self.lock:
            self.last_log = time.monotonic()
            self._write(f"[run] {self.line()}\n")

    def _draw(self) -> None:
        if not self.drawing:
            return
        width = shutil.get_terminal_size((120, 24)).columns - 1
        self._write(self.line()[:width], clear=True)

    def _write(self, text: str, clear: bool = False) -> None:
        try:
            self.stream.write(("\r\x1b[2K" if clear else "") + text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout must not fail the test session
            self.stop.set()

    def _tick(self) -> None:
        """The clock: redraws the live line, or logs when nothing was said for INTERVAL."""
        while not self.stop.wait(LIVE_REFRESH):
            if self.live:
                with self.lock:
                    if not self.closed:
                        self._draw()
            elif time.monotonic() - self.last_log >= INTERVAL:
                self._log()


def attach(config, label: str) -> Progress | None:
    """The controller of a ``run`` variant registers a Progress; workers and
    plain pytest sessions do not."""
    if not label or hasattr(config, "workerinput"):
        return None
    p = Progress(label)
    config.pluginmanager.register(p, "softmax-harness-progress")
    return p


def begin(config, ids: list[str], h) -> None:
    """The conformance tests are known (the ledger was opened)."""
    p = config.pluginmanager.get_plugin("softmax-harness-progress")
    if isinstance(p, Progress):
        p.begin(ids, {i.id: i.family for i in h.impls()})
