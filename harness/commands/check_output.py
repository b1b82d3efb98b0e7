"""`softmax-harness check`'s output: the --json and --report files (checked
before the run, the JSON file locked against a second writer), the JSON
lines themselves, long cases kept in files, and stdout that may go away."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

from ..errors import UsageError
from ..records import Result

REPRO_INLINE_MAX = 2048  # characters: a line a terminal shows whole; longer ones read their case from a file


def clip(message: str, width: int) -> str:
    """``message`` in at most ``width`` characters, cut in the middle: its end
    carries the budget ("... 23.5 ulp (budget good 7.56, bounded 15.3)")."""
    if len(message) <= width:
        return message
    tail = min(50, width // 2)
    return message[:width - tail - 3] + " … " + message[-tail:]


def _store_long_case(r: Result, json_path: str | None) -> None:
    """A reproducer with the case inlined must fit on a command line (one
    argument is limited to 128 KiB on Linux) and should not bury the verdict
    on a terminal (a 4097-long row is ~15 kB of base64): past REPRO_INLINE_MAX, the case
    goes to a file (FILE.cases/ next to --json, else the temp folder) and the
    reproducer reads it."""
    import shlex

    if len(r.reproducer) <= REPRO_INLINE_MAX or not r.case:
        return
    folder = Path(json_path + ".cases") if json_path else Path(tempfile.gettempdir()) / "softmax-harness-cases"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = (folder / f"{r.case_id or 'case'}.json").resolve()
        # A case is plain JSON values (Case.to_json): written as its result line writes it.
        path.write_text(json.dumps(r.case, allow_nan=False, separators=(",", ":")) + "\n", encoding="utf-8")
    except OSError:
        return  # keep the inline one: long, but still exact
    lit = json.dumps  # a JSON string is a Python string literal, in double quotes: clean shell quoting
    code = (f"import harness, pathlib; print(harness.replay(pathlib.Path({lit(str(path))}).read_text(), "
            f"{lit(r.impl)}, {lit(r.property)}))")
    r.reproducer = "python -c " + shlex.quote(code)


def _describe(case) -> str:
    """Case.short, plus where its non-finite values are (they may lie past
    the elements shown)."""
    import numpy as np

    text = case.short(8)
    x = case.logits.astype(np.float64).reshape(-1)
    kinds = [(np.isnan(x), "nan"), (x == np.inf, "+inf"), (x == -np.inf, "-inf")]
    where = [f"{name} at {', '.join(map(str, np.flatnonzero(m)[:4].tolist()))}{', ...' if m.sum() > 4 else ''}"
             for m, name in kinds if m.any()]
    return text + (f" (flat index: {'; '.join(where)})" if where else "")


def results_folder(report_path: str) -> Path:
    """Where ``check --report FILE.html`` keeps the results it renders:
    ``FILE-results/check/`` beside the report, a folder that stays (the
    report names it as its source)."""
    out = Path(report_path).resolve()
    return out.parent / f"{out.stem}-results" / "check"


def _report(results: list[Result], path: str, impl, seconds: float, incomplete: str | None) -> None:
    """The report, from a results folder written as a pytest session writes
    one (harness/run_ledger.py): results, ``impls.json`` and the run record
    ``env.json`` with this process's environment, ``finished`` when every
    task was judged, else ``incomplete`` and why."""
    import time

    from reports.render import render

    from ..environment import env_record
    from ..results_store import write_json

    env = results_folder(path)
    env.mkdir(parents=True, exist_ok=True)
    (env / "results.jsonl").write_text("".join(r.dumps() + "\n" for r in results), encoding="utf-8")
    write_json(env / "impls.json", [impl.describe()])
    now = time.time()
    rec = {**env_record("check"), "started": now - seconds, "ended": now, "collected": len(results),
           "reported": len(results), "quarantined": {}}
    if incomplete:
        rec["incomplete"] = incomplete
    else:
        rec["finished"] = now
    write_json(env / "env.json", rec)
    render([env], Path(path))
    say(f"report: {path} (results in {env})")


class Stop(Exception):
    """Ends the run early with exit status ``status``: SIGTERM, or a stdout
    nobody reads any more.  ``note`` goes to stderr (None: say nothing)."""

    def __init__(self, status: int, note: str | None = None):
        super().__init__(note or "")
        self.status, self.note = status, note


def say(text: str = "") -> None:
    """print, flushed; a reader that went away (``| head -1``) ends the run
    (the --json file keeps what was computed) instead of a BrokenPipeError."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Nothing may reach the closed pipe any more, not even the flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        raise Stop(128 + signal.SIGPIPE) from None


def on_sigterm(signum, frame) -> None:
    """SIGTERM as an exception, so the run's ``finally`` clauses end the child
    and close the --json file (the default action would orphan the child)."""
    raise Stop(128 + signum, "terminated; results written so far are kept")


def check_paths(json_path: str | None, report_path: str | None) -> None:
    """--json and --report must be files that can be written: said before
    the run, not after it (a folder left a .tmp file behind)."""
    seen: dict[Path, str] = {}
    for opt, path in (("--json", json_path), ("--report", report_path)):
        if not path:
            continue
        p = Path(path)
        if p.is_dir():
            raise UsageError(f"{opt} {path} is a folder; give a file name")
        folder = p.parent
        if not folder.is_dir():
            raise UsageError(f"{opt} {path}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
            raise UsageError(f"{opt} {path} is not writable")
        key = p.resolve()
        if key in seen:
            raise UsageError(f"{opt} and {seen[key]} name the same file {path}")
        seen[key] = opt


def open_json(path: str):
    """--json FILE, emptied and locked (flock) for this run.  A FILE another
    process holds is refused: two runs writing one file interleave and cut
    each other's lines (and the second emptied the first's)."""
    import fcntl

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
    except OSError as e:
        raise UsageError(f"cannot write --json {path}: {e.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError(f"--json {path} is being written by another process (another check?); "
                         f"give another file") from None
    except OSError:
        pass  # a file system without locks: write unlocked, as before
    os.ftruncate(fd, 0)  # only now: never empty a file someone else is writing
    return os.fdopen(fd, "w", encoding="utf-8")
