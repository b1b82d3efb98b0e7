"""The controller's book of a conformance run (the xdist controller, or the
single process without xdist): the run record, which conformance tests
reported, crashes and the quarantine.  Workers never write records; they
write their own result lines and read ``quarantine.json``.

- ``start`` writes ``env.json`` and ``impls.json`` once the session knows it
  collected conformance tests (``--collect-only`` never gets here).
- ``on_report`` counts a test as reported at its teardown report, or at the
  ``???`` report xdist makes for a test whose worker died; for the latter it
  writes a ``crash``/``timeout`` Result from the worker's ``.running`` note,
  and quarantines an implementation after ``QUARANTINE_AFTER`` of them.
- ``finish`` writes ``finished`` when every collected conformance test
  reported, otherwise ``incomplete`` with the reason.
"""

from __future__ import annotations

import json
import shlex
import time
from collections import Counter

from .records import Result
from .results_store import QUARANTINE_AFTER, QUARANTINE_FILE, write_json


def conformance_ids(h, ids) -> list[str]:
    """Under xdist the controller sees only node ids: a conformance test is
    one the plugin parametrized, ``<suite file>::test_<property>[<impl id>-<dtype>]``
    for a registered property and a selected implementation and dtype.  The
    name matters too: a self-test parametrized over implementations and
    dtypes (``test_sweep.py::test_..._within_budget[numpy.stable_softmax-float16]``)
    made the self-test session a conformance run that wrote a record."""
    from .properties import PROPERTIES

    tails = {f"{i.id}-{d}" for i in h.impls() for d in i.dtypes if d in h.dtypes}
    names = {f"test_{p}" for p in PROPERTIES}
    out = []
    for n in ids:
        path, _, last = n.rpartition("::")
        if not (path.endswith("test_properties.py") or path == ""):  # "" under --pyargs harness.suite.test_properties
            continue
        if "[" in last and last.endswith("]") and last[:last.index("[")] in names \
                and last[last.index("[") + 1:-1] in tails:
            out.append(n)
    return out


class Ledger:
    """Registered as a pytest plugin for its report hook (with or without xdist)."""

    def __init__(self, h, collected: list[str], config, empty: str | None = None):
        self.h, self.config = h, config
        self.collected = set(collected)
        self.reported: set[str] = set()
        self.crashes: Counter[str] = Counter()
        self.quarantined: dict[str, dict] = {}
        self.lost_workers = 0
        from .environment import env_record
        from .registry import all_impls

        h.run_dir.mkdir(parents=True, exist_ok=True)
        write_json(h.run_dir / "impls.json", [i.describe() for i in all_impls()])
        self.record = {**env_record(h.env_id), "session": h.session, "run_id": h.run_id,
                       "collected": len(self.collected), "reported": 0, "quarantined": {}}
        if h.shard is not None:  # complete as a shard only: readers never take it for the whole run
            from .sharding import record

            self.record.update(record(h))
        if empty:
            self.record["shard_empty"] = empty
        write_json(h.run_dir / "env.json", self.record)
        config.pluginmanager.register(self, "softmax-harness-ledger")

    def pytest_runtest_logreport(self, report) -> None:
        if report.nodeid not in self.collected:
            return
        if report.when == "teardown":
            self.reported.add(report.nodeid)
        elif report.when == "???":  # xdist: the worker died while running this test
            self.reported.add(report.nodeid)
            self.lost_workers += 1
            self._crashed(report, self.config)

    def _crashed(self, report, config) -> None:
        h = self.h
        worker = getattr(report, "node", None)
        if worker is None:  # not a worker's report: no note to read
            return
        path = h.running_file(worker.gateway.id)
        try:
            note = json.loads(path.read_text(encoding="utf-8"))  # the worker's .running note, not a result
        except (OSError, ValueError):
            return
        if note.get("nodeid") != report.nodeid:
            return
        path.unlink(missing_ok=True)
        res = crash_result(h, note, report.nodeid, config)
        h.write(res)
        self.crashes[note["impl"]] += 1
        if self.crashes[note["impl"]] >= QUARANTINE_AFTER and note["impl"] not in self.quarantined:
            # Each crash costs a fresh worker (and a hang the whole timeout): stop paying for this one.
            self.quarantined[note["impl"]] = {"crashes": self.crashes[note["impl"]], "at": time.time()}
            write_json(h.run_dir / QUARANTINE_FILE, self.quarantined)

    def finish(self, session, exitstatus) -> None:
        rec = self.record
        rec["reported"] = len(self.reported)
        rec["quarantined"] = self.quarantined
        rec["ended"] = time.time()
        if self.reported >= self.collected:
            rec["finished"] = rec["ended"]
        else:
            rec["incomplete"] = self.reason(session, exitstatus)
        write_json(self.h.run_dir / "env.json", rec)

    def reason(self, session, exitstatus) -> str:
        parts = [f"{len(self.reported)} of {len(self.collected)} collected conformance tests reported"]
        why = [str(s) for s in (getattr(session, "shouldfail", False), getattr(session, "shouldstop", False)) if s]
        ds = session.config.pluginmanager.getplugin("dsession")
        if getattr(ds, "_summary_report", None):  # xdist's own reason, e.g. 'maximum crashed workers reached: 8'
            why.append(f"xdist: {ds._summary_report}")
        if int(exitstatus) == 2:
            why.append("interrupted")
        if self.lost_workers:
            why.append(f"{self.lost_workers} worker(s) lost")
        return parts[0] + (f" ({'; '.join(why)})" if why else "")


def crash_result(h, note: dict, nodeid: str, config) -> Result:
    """The Result for a test whose worker died: ``timeout`` where it outlived
    the watchdog's limit, ``crash`` otherwise."""
    from .errors import UsageError
    from .registry import env_prefix, get

    try:
        impl = get(note["impl"])
        family, function, device = impl.family, impl.function, impl.device
    except UsageError:
        family, function, device = "?", "?", "?"
    elapsed = time.time() - note["start"]
    timed_out = note["timeout"] > 0 and elapsed >= note["timeout"] - 1
    verdict = "timeout" if timed_out else "crash"
    msg = (f"no result within the test timeout of {note['timeout']:g} s (worker ended)" if timed_out
           else f"the worker process died after {elapsed:.1f} s (segfault, abort or exit) while running this test")
    # The test's own file, absolute: works from any folder and install (a nodeid need not name
    # the file: under `pytest --pyargs harness.suite.test_properties` from elsewhere it is "::test_...").
    target = f"{note['path']}::{nodeid.partition('::')[2]}"
    again = env_prefix() + f"python -m pytest {shlex.quote(target)} -n 1 --harness-budget {h.budget}"
    if h.seed.option():  # a given or drawn seed: repeat it (without the database)
        again += f" --harness-seed {h.seed.value}"
    res = Result(note["impl"], family, function, note["property"] or "?", note["dtype"] or "?", "-", verdict,
                 message=msg, device=device, env={"env_id": h.env_id, "budget": h.budget, "worker": "controller"},
                 duration=elapsed, reproducer=again)
    res.known = h.baseline.classify(res)
    return res


def quarantine_result(h, impl, dtype: str, prop: str, crashes: int, env: dict) -> Result:
    """What a quarantined implementation's remaining tests record instead of running."""
    return Result(impl.id, impl.family, impl.function, prop, dtype, "-", "crash",
                  message=f"not run: the implementation was quarantined after {crashes} crashes in this run "
                          f"(segfault, abort or timeout; the limit is {QUARANTINE_AFTER})",
                  device=impl.device, env=env)


def summary_lines(h, results: list[Result]) -> list[str]:
    """INCOMPLETE and QUARANTINED lines for the terminal summary."""
    rec = getattr(getattr(h, "ledger", None), "record", None) or {}
    lines = []
    if rec.get("incomplete"):
        lines.append(f"INCOMPLETE: {rec['incomplete']}")
    if rec.get("shard_empty"):
        lines.append(f"EMPTY SHARD: {rec['shard_empty']}")
    for impl, q in sorted((rec.get("quarantined") or {}).items()):
        n = sum(1 for r in results if r.impl == impl and "quarantined" in r.message)
        lines.append(f"QUARANTINED: {impl} after {q['crashes']} crashes; {n} of its tests not run (recorded as crash)")
    return lines
