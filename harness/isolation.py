"""Isolation for `softmax-harness check`: the child process that runs the
user's code, and the parent's supervisor loop over it (timeouts, crashes).

The user's code runs in a child process (multiprocessing, spawn) that takes
one (dtype, property) task at a time and reports each call it is about to
make.  A call that makes no progress within ``--timeout`` seconds kills the
child and is the verdict ``timeout``; the clock starts at the child's first
call of a task, so a slow start under load is not a hang.  A child that dies
(segfault, abort, ``os._exit``) is ``crash``.  Either way the input that did
it is recorded with its reproducer, and a fresh child carries on.  After
``MAX_HUNG_IN_A_ROW`` tasks in a row have timed out, the rest are not run.

The child never outlives the parent: on Linux the kernel kills it when the
parent dies (``PR_SET_PDEATHSIG``), however the parent ends (SIGTERM,
SIGKILL, ^C); elsewhere a thread in the child watches for the parent to go.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the child imports this module first: keep its start light until _die_with has run
    from .records import Result

MAX_HUNG_IN_A_ROW = 3
STARTUP_LIMIT = 600.0  # seconds for a child to load and draw before its first call (not the target's time)
TICK_CASE_LIMIT = 4096  # elements: larger cases are not sent with each call's heartbeat


def _die_with(parent: int) -> None:
    """End this process when ``parent`` ends, however it ends (a hung target
    would otherwise run on, orphaned, until someone noticed)."""
    import signal
    import threading

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0) == 0:  # 1: PR_SET_PDEATHSIG
                if os.getppid() != parent:  # it died before the request took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:  # elsewhere (or without prctl): poll; a target holding the GIL delays it
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _child(conn, target, function, opts, fault_path, parent) -> None:
    """Runs in the child: one task per message; a ("call", case) heartbeat
    before each call of the target, then ("done", [result lines])."""
    import faulthandler
    import signal
    import warnings

    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and kills us
    warnings.simplefilter("ignore", RuntimeWarning)  # numpy noise; verdicts say what went wrong
    fault = open(fault_path, "w")  # noqa: SIM115 (open for the process's life)
    faulthandler.enable(fault, all_threads=False)
    from .conformance import FIXED, explore, fixed
    from .targets import target_impl

    try:
        impl = target_impl(target, function)
    except Exception as e:
        conn.send(("fatal", str(e)))
        return
    user_fn = impl.fn

    def beating(case):
        conn.send(("call", case.to_json() if case.logits.size <= TICK_CASE_LIMIT else None))
        return user_fn(case)

    impl.fn = beating
    env = {"env_id": "check", "budget": opts["budget"]}
    while True:
        task = conn.recv()
        if task is None:
            return
        dtype, prop = task
        try:
            if prop in FIXED:
                res = fixed(impl, dtype, prop, env, opts.get("conventions"))
            else:
                res = [explore(impl, dtype, prop, budget=opts["budget"], max_examples=opts["max_examples"],
                               seed=opts["seed"], env=env, database=opts.get("database", False))]
            # The wire carries each Result as its JSON line (the file format): the parent reads
            # it back with Result.loads, the one validated reader.  Here, a line that cannot be
            # written is the harness's failure, reported as such.
            lines = [r.dumps() for r in res]
        except Exception as e:  # the harness's own failure (the user's raising is a Finding): say so
            import traceback

            conn.send(("internal", f"{type(e).__name__}: {e}".splitlines()[0], traceback.format_exc()))
            continue
        conn.send(("done", lines))


class _Worker:
    """The parent's handle on one child."""

    def __init__(self, target: str, function: str, opts: dict):
        ctx = mp.get_context("spawn")
        fd, self.fault_path = tempfile.mkstemp(prefix="softmax-harness-check-", suffix=".fault")
        os.close(fd)
        self.conn, child_end = ctx.Pipe()
        self.proc = ctx.Process(target=_child, daemon=True,
                                args=(child_end, target, function, opts, self.fault_path, os.getpid()))
        self.proc.start()
        child_end.close()

    def where_it_died(self, user_file: str | None = None) -> str:
        """Where faulthandler saw the child die: the innermost Python frame,
        and the innermost one in the user's file when that is another."""
        try:
            text = Path(self.fault_path).read_text(errors="replace")
        except OSError:
            return ""
        frames = []  # (path, line, function), most recent call first
        for raw in text.splitlines():
            raw = raw.strip()
            if raw.startswith('File "') and ", line " in raw:
                f, rest = raw[len('File "'):].split('", line ', 1)
                lineno, _, func = rest.partition(" in ")
                frames.append((f, lineno.strip(), func.strip()))
        if not frames:
            return ""

        def show(fr) -> str:
            p = Path(fr[0])
            name = f"{p.parent.name}/{p.name}" if p.name == "__init__.py" else p.name
            return f"{name}:{fr[1]} in {fr[2]}"

        mine = next((fr for fr in frames if user_file and fr[0] == user_file), None)
        if mine is None or mine == frames[0]:
            return show(mine or frames[0])
        return f"{show(mine)} (innermost {show(frames[0])})"

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.close()

    def close(self) -> None:
        self.conn.close()
        try:
            os.unlink(self.fault_path)
        except OSError:
            pass


def _user_file(target: str) -> str | None:
    """The source file of TARGET's module (already imported by the parent)."""
    from .targets import is_path

    mod_part = target.rpartition(":")[0]
    if is_path(mod_part):
        return str(Path(mod_part).resolve())
    mod = sys.modules.get(mod_part)
    return getattr(mod, "__file__", None)


def _exit_reason(code: int | None) -> str:
    import signal

    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _failed(impl, dtype: str, prop: str, verdict: str, message: str, case_json: dict | None,
            t0: float) -> Result:
    from .conformance import reproducer
    from .records import Case, Result

    res = Result(impl.id, impl.family, impl.function, prop, dtype, "-", verdict, message=message,
                 env={"env_id": "check"}, duration=time.perf_counter() - t0, device=impl.device)
    if case_json is not None:
        case = Case.from_json(case_json)
        res.regime, res.case_id, res.case = case.regime, case.id, case_json
        res.reproducer = reproducer(impl, case, prop)
    return res


def run_tasks(impl, target: str, function: str, tasks, opts, timeout: float, sink) -> list[tuple[str, str]]:
    """Feed tasks to a child; a dead or hung child costs only its task.
    ``sink`` gets each task's list of Results as it finishes.  Returns
    the tasks not run (after MAX_HUNG_IN_A_ROW timeouts in a row)."""
    from .errors import UsageError
    from .records import Result, ResultError

    worker = None
    hung_in_a_row = 0
    try:
        for i, (dtype, prop) in enumerate(tasks):
            if hung_in_a_row >= MAX_HUNG_IN_A_ROW:
                return list(tasks[i:])
            if worker is None:
                worker = _Worker(target, function, opts)
            worker.conn.send((dtype, prop))
            t0 = last = time.perf_counter()
            case_json = None
            got = None
            dead = False
            # The clock runs only from the child's first "call" of this task: starting a
            # child and drawing the first case is the harness's time, which load stretches.
            while time.perf_counter() - last < (timeout if case_json is not None else STARTUP_LIMIT):
                try:
                    ready = worker.conn.poll(0.1)
                    msg = worker.conn.recv() if ready else None
                except (EOFError, OSError):
                    dead = True
                    break
                if msg is None:
                    if not worker.proc.is_alive() and not worker.conn.poll():
                        dead = True
                        break
                    continue
                kind, payload = msg[0], msg[1]  # ("call", case) | ("done", results) | ("internal", ..) | ("fatal", ..)
                if kind == "internal":
                    sys.stderr.write(f"softmax-harness check: internal error in {prop}, {dtype}:\n{msg[2]}")
                    got = [_failed(impl, dtype, prop, "error", f"internal harness error: {payload}", None, t0)]
                    break
                if kind == "call":
                    case_json, last = payload, time.perf_counter()
                elif kind == "done":
                    try:
                        got = [Result.loads(line) for line in payload]
                    except ResultError as e:  # the child wrote what this harness cannot read: ours to fix
                        got = [_failed(impl, dtype, prop, "error", f"internal harness error: result line: {e}",
                                       None, t0)]
                    break
                elif kind == "fatal":
                    raise UsageError(f"the child process could not load the target: {payload}")
            if got is not None:
                hung_in_a_row = 0
                sink(got)
                continue
            where = ""
            if dead:
                worker.proc.join()
                where = worker.where_it_died(_user_file(target))
                msg = f"crashed ({_exit_reason(worker.proc.exitcode)})" + (f" in {where}" if where else "")
                verdict = "crash"
                hung_in_a_row = 0
            else:
                msg = (f"a call did not return within {timeout:g} s (child killed)" if case_json is not None
                       else f"the child made no call within {STARTUP_LIMIT:g} s of starting the task (child killed)")
                verdict = "timeout"
                hung_in_a_row += 1
            worker.kill()
            worker = None
            sink([_failed(impl, dtype, prop, verdict, msg, case_json, t0)])
        return []
    finally:
        if worker is not None:
            if sys.exc_info()[0] is None:
                worker.stop()
            else:
                worker.kill()
