"""`softmax-harness check TARGET`: judge a user's own function.

TARGET is ``pkg.module:function`` (importable from the current directory or
PYTHONPATH) or ``path/to/file.py:function``.  Calling conventions
(``--function``) are in ``CONVENTIONS``.

The user's code runs in a child process (multiprocessing, spawn) that takes
one (dtype, property) task at a time and reports each call it is about to
make.  A call that makes no progress within ``--timeout`` seconds kills the
child and is the verdict ``timeout``; a child that dies (segfault, abort,
``os._exit``) is ``crash``.  Either way the input that did it is recorded
with its reproducer, and a fresh child carries on with the remaining tasks.
After ``MAX_HUNG_IN_A_ROW`` tasks in a row have timed out, the rest are not
run (they would each cost ``--timeout`` seconds too).

Every Result is written to ``--json`` and flushed as it arrives, so an
interrupted run keeps what it computed.  Exit status: 0 conformant, 1 not,
2 usage error.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

from ..seeding import DB_ENV, DEFAULT_DB, DEFAULT_SEED

CONVENTIONS = {
    "softmax": "fn(x, axis=-1) -> same shape and dtype as x",
    "log_softmax": "fn(x, axis=-1) -> same shape and dtype as x",
    "logsumexp": "fn(x, axis=-1) -> x's dtype, axis removed (no keepdims)",
    "sigmoid": "fn(x) -> same shape and dtype as x",
    "softmax_jacobian": "fn(x) with x of shape (N, k) -> (N, k, k), J[n, i, j] = d s_i / d x_j",
    "softmax_vjp": "fn(x, g, axis=-1) -> g^T J = s * (g - sum(g * s, axis)), shape and dtype of x",
}
MAX_HUNG_IN_A_ROW = 3
STARTUP_LIMIT = 600.0  # seconds for a child to load and draw before its first call (not the target's time)
DEFAULT_TIMEOUT = 60.0
REPRO_INLINE_MAX = 32 * 1024  # characters: longer reproducers read their case from a file
TICK_CASE_LIMIT = 4096  # elements: larger cases are not sent with each call's heartbeat


def register(sub) -> None:
    p = sub.add_parser(
        "check", help="check your own implementation: verdict per property x dtype, worst input, reproducer",
        description="Run the property suite on your function, in a child process. Exit 0 conformant, "
                    "1 non-conformant (out-of-bound or worse, crash, timeout), 2 usage error.")
    p.add_argument("target", help="pkg.module:function or path/to/file.py:function")
    p.add_argument("--function", default="softmax", metavar="NAME",
                   help="what TARGET computes (default softmax). Calling conventions: "
                        + "; ".join(f"{k}: {v}" for k, v in CONVENTIONS.items()))
    p.add_argument("--dtypes", help="comma-separated subset of float16,bfloat16,float32,float64 (default: all)")
    p.add_argument("--max-examples", type=int, help="Hypothesis examples per property and dtype "
                                                    "(default: the profile's; dev 12)")
    p.add_argument("--seed", default=None,
                   help=f"Hypothesis seed: an integer, or 'random' to draw one (printed, to repeat with --seed N; "
                        f"random runs also replay the failures earlier ones saved in {DEFAULT_DB}, env {DB_ENV}); "
                        f"default {DEFAULT_SEED}, so the same code and versions give the same verdict "
                        f"(the ci profile is derandomized instead)")
    p.add_argument("--profile", default="dev",
                   help="dev (default, a few seconds per dtype), ci (derandomized, 30 examples) or thorough "
                        "(300 examples, rows up to 2**17)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds one call of TARGET (with its checking) may go without finishing before it "
                        f"counts as hung: verdict timeout (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--json", metavar="FILE", help="write the Results as JSON Lines, one flushed line per result")
    p.add_argument("--report", metavar="FILE.html", help="also render a self-contained HTML report")
    p.set_defaults(func=main)


# --------------------------------------------------------------------------
# TARGET -> Impl (also used by harness.replaying for "check:..." ids)
# --------------------------------------------------------------------------


def _is_path(mod_part: str) -> bool:
    return mod_part.endswith(".py") or "/" in mod_part or os.sep in mod_part


def canonical_target(target: str) -> str:
    """TARGET with a file path made absolute, so that the implementation id
    (and the reproducer built from it) works from any directory."""
    mod_part, sep, attr = target.rpartition(":")
    if sep and mod_part and _is_path(mod_part):
        return f"{Path(mod_part).resolve()}:{attr}"
    return target


def load_target(target: str):
    """The callable named by TARGET, or a UsageError saying what is wrong."""
    from ..registry import UsageError

    mod_part, sep, attr = target.rpartition(":")
    if not sep or not mod_part or not attr:
        raise UsageError(f"target {target!r} must be pkg.module:function or path/to/file.py:function")
    try:
        if _is_path(mod_part):
            path = Path(mod_part).resolve()
            if not path.is_file():
                raise UsageError(f"target file {mod_part} does not exist")
            name = f"_check_{path.stem}"
            if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
                mod = sys.modules[name]
            else:
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None:
                    raise UsageError(f"cannot import {mod_part}: not a Python source file")
                mod = importlib.util.module_from_spec(spec)
                if str(path.parent) not in sys.path:
                    sys.path.insert(0, str(path.parent))  # its own sibling imports
                sys.modules[name] = mod  # dataclasses, pickling and the like look themselves up here
                try:
                    spec.loader.exec_module(mod)
                except BaseException:
                    sys.modules.pop(name, None)
                    raise
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())  # as `python -m` would; the console script does not
            mod = importlib.import_module(mod_part)
    except UsageError:
        raise
    except (Exception, SystemExit) as e:
        msg = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"cannot import {mod_part}: {msg}") from None
    try:
        fn = getattr(mod, attr)
    except AttributeError:
        raise UsageError(f"{mod_part} has no attribute {attr!r}") from None
    if not callable(fn):
        raise UsageError(f"{target} is not callable (it is a {type(fn).__name__})")
    return fn


def target_impl(target: str, function: str):
    from ..records import Impl
    from ..registry import UsageError

    if function not in CONVENTIONS:
        raise UsageError(f"function {function!r} cannot be checked; choose from {', '.join(CONVENTIONS)}")
    target = canonical_target(target)
    fn = load_target(target)
    kw = {}
    if function == "sigmoid":
        call = lambda c: fn(c.logits)  # noqa: E731
    elif function == "softmax_jacobian":
        call = lambda c: fn(c.logits)  # noqa: E731
        kw = dict(ranks=(2,), last_axis_only=True)
    elif function == "softmax_vjp":
        call = lambda c: fn(c.logits, c.upstream, c.axis)  # noqa: E731
    else:
        call = lambda c: fn(c.logits, c.axis)  # noqa: E731
    return Impl(f"check:{target}:{function}", "user", function, call, risky=True,
                notes=f"user target, {CONVENTIONS[function]}", **kw)


def _tasks(function: str, dtypes: list[str]) -> list[tuple[str, str]]:
    from ..properties import PROPERTIES, applies

    return [(d, p) for d in dtypes for p in PROPERTIES if applies(p, function)]


# --------------------------------------------------------------------------
# The child
# --------------------------------------------------------------------------


def _child(conn, target, function, opts, fault_path) -> None:
    """Runs in the child: one task per message; a ("call", case) heartbeat
    before each call of the target, then ("done", [Result dicts])."""
    import faulthandler
    import signal
    import warnings

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and kills us
    warnings.simplefilter("ignore", RuntimeWarning)  # numpy noise; verdicts say what went wrong
    fault = open(fault_path, "w")  # noqa: SIM115 (open for the process's life)
    faulthandler.enable(fault, all_threads=False)
    from ..conformance import explore, special_values

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
    env = {"env_id": "check", "profile": opts["profile"]}
    while True:
        task = conn.recv()
        if task is None:
            return
        dtype, prop = task
        try:
            if prop == "special_values":
                res = special_values(impl, dtype, env)
            else:
                res = [explore(impl, dtype, prop, profile=opts["profile"], max_examples=opts["max_examples"],
                               seed=opts["seed"], env=env, database=opts.get("database", False))]
        except Exception as e:  # the harness's own failure (the user's raising is a Finding): say so
            import traceback

            conn.send(("internal", f"{type(e).__name__}: {e}".splitlines()[0], traceback.format_exc()))
            continue
        conn.send(("done", [r.to_json() for r in res]))


class _Worker:
    """The parent's handle on one child."""

    def __init__(self, target: str, function: str, opts: dict):
        ctx = mp.get_context("spawn")
        fd, self.fault_path = tempfile.mkstemp(prefix="softmax-harness-check-", suffix=".fault")
        os.close(fd)
        self.conn, child_end = ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(child_end, target, function, opts, self.fault_path),
                                daemon=True)
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
    mod_part = target.rpartition(":")[0]
    if _is_path(mod_part):
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
            t0: float) -> dict:
    from ..conformance import reproducer
    from ..records import Case, Result

    res = Result(impl.id, impl.family, impl.function, prop, dtype, "-", verdict, message=message,
                 env={"env_id": "check"}, duration=time.perf_counter() - t0, device=impl.device)
    if case_json is not None:
        case = Case.from_json(case_json)
        res.regime, res.case_id, res.case = case.regime, case.id, case_json
        res.reproducer = reproducer(impl, case, prop)
    return res.to_json()


def run_tasks(impl, target: str, function: str, tasks, opts, timeout: float, sink) -> list[tuple[str, str]]:
    """Feed tasks to a child; a dead or hung child costs only its task.
    ``sink`` gets each task's list of Result dicts as it finishes.  Returns
    the tasks not run (after MAX_HUNG_IN_A_ROW timeouts in a row)."""
    from ..registry import UsageError

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
                    got = payload
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


# --------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------


def _clean(o):
    """JSON-safe copy: non-finite floats become None, numpy scalars Python."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if hasattr(o, "item") and not isinstance(o, (str, bytes)):
        try:
            return _clean(o.item())
        except (TypeError, ValueError):
            return str(o)
    return o if o is None or isinstance(o, (str, int, bool)) else str(o)


def dumps(r: dict) -> str:
    return json.dumps(_clean(r), allow_nan=False, separators=(",", ":"))


def _rank(r: dict) -> tuple:
    from .. import policy

    v = r["verdict"]
    # A failure found on ordinary (finite, searched) input says more about
    # the code than a special-value class (a convention), so it goes first
    # unless the special class crashed or hung.
    searched = not str(r.get("regime", "")).startswith("special:") or v in ("crash", "timeout")
    return (searched, policy.VERDICTS.index(v) if v in policy.VERDICTS else 99, r.get("max_ulp") or 0)


def main(args) -> int:
    from oracles import DTYPE_NAMES

    from .. import policy
    from ..conformance import PROFILES
    from ..records import Case
    from ..registry import UsageError, split_csv
    from ..seeding import choose_seed

    dtypes = split_csv(args.dtypes) or list(DTYPE_NAMES)
    for d in dtypes:
        if d not in DTYPE_NAMES:
            raise UsageError(f"unknown dtype {d!r}; expected one of {', '.join(DTYPE_NAMES)}")
    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; expected one of {', '.join(PROFILES)}")
    if args.max_examples is not None and args.max_examples < 1:
        raise UsageError("--max-examples must be at least 1")
    if not args.timeout > 0:
        raise UsageError("--timeout must be positive")
    seed = choose_seed(args.seed, args.profile)
    impl = target_impl(args.target, args.function)  # usage errors surface here, in the parent
    target = canonical_target(args.target)
    try:
        out = open(args.json, "w", encoding="utf-8") if args.json else None  # noqa: SIM115
    except OSError as e:
        raise UsageError(f"cannot write --json {args.json}: {e.strerror}") from None
    results: list[dict] = []
    print(f"checking {impl.id} ({CONVENTIONS[args.function]}); profile {args.profile}, {seed.describe()}, "
          f"dtypes {','.join(dtypes)}", flush=True)

    tasks = _tasks(args.function, dtypes)
    width = max(len(p) for _, p in tasks)

    def line(ok: bool, dtype: str, prop: str, verdict: str, message: str) -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {dtype:9} {prop:{width}} {verdict:14} {message[:100]}", flush=True)

    def sink_task(rs: list[dict]) -> None:
        for r in rs:
            _store_long_case(r, args.json)
            results.append(r)
            if out:
                out.write(dumps(r) + "\n")
                out.flush()
        if rs and rs[0]["property"] == "special_values" and len(rs) > 1:
            bad = [r for r in rs if not policy.passes(r["verdict"])]
            for r in bad:
                line(False, r["dtype"], "special_values", r["verdict"], r["message"])
            if not bad:
                line(True, rs[0]["dtype"], "special_values", policy.worst(r["verdict"] for r in rs),
                     f"{len(rs)} input classes (nan, +-inf, all -inf, empty, ...) as the ieee profile says")
            return
        for r in rs:
            line(policy.passes(r["verdict"]), r["dtype"], r["property"], r["verdict"], r["message"])

    opts = {"profile": args.profile, "max_examples": args.max_examples, "seed": seed.value, "database": seed.random}
    t0 = time.perf_counter()
    try:
        skipped = run_tasks(impl, target, args.function, tasks, opts, args.timeout, sink_task)
    finally:
        if out:
            out.close()
    if skipped:
        every = _tasks(args.function, [skipped[0][0]])
        by_dtype: dict[str, list[str]] = {}
        for dtype, prop in skipped:
            by_dtype.setdefault(dtype, []).append(prop)
        for dtype, props in by_dtype.items():
            what = "every property" if len(props) == len(every) else ", ".join(props)
            print(f"---- {dtype:9} not run ({what}): the target hung in {MAX_HUNG_IN_A_ROW} tasks in a row")
    bad = [r for r in results if not policy.passes(r["verdict"])]
    print(f"\n{len(results)} results in {time.perf_counter() - t0:.1f} s"
          + (f", written to {args.json}" if args.json else ""))
    if args.report:
        _report(results, args.report)
    if not bad and not skipped:
        print("verdict: CONFORMANT")
        return 0
    if not bad:
        print(f"verdict: NON-CONFORMANT ({len(skipped)} tasks not run after repeated hangs)")
        return 1
    worst = max(bad, key=_rank)
    print(f"verdict: NON-CONFORMANT ({len(bad)} failing; worst: {worst['verdict']} in {worst['property']}, "
          f"{worst['dtype']}: {worst['message'][:120]})")
    if worst.get("case"):
        print(f"worst input: {_describe(Case.from_json(worst['case']))}")
    if worst.get("reproducer"):
        print(f"reproduce: {worst['reproducer']}")
    return 1


def _store_long_case(r: dict, json_path: str | None) -> None:
    """A reproducer with the case inlined must fit on a command line (one
    argument is limited to 128 KiB on Linux): past REPRO_INLINE_MAX, the case
    goes to a file (FILE.cases/ next to --json, else the temp folder) and the
    reproducer reads it."""
    import shlex

    if len(r.get("reproducer") or "") <= REPRO_INLINE_MAX or not r.get("case"):
        return
    folder = Path(json_path + ".cases") if json_path else Path(tempfile.gettempdir()) / "softmax-harness-cases"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = (folder / f"{r['case_id'] or 'case'}.json").resolve()
        path.write_text(dumps(r["case"]) + "\n", encoding="utf-8")
    except OSError:
        return  # keep the inline one: long, but still exact
    lit = json.dumps  # a JSON string is a Python string literal, in double quotes: clean shell quoting
    code = (f"import harness, pathlib; print(harness.replay(pathlib.Path({lit(str(path))}).read_text(), "
            f"{lit(r['impl'])}, {lit(r['property'])}))")
    r["reproducer"] = "python -c " + shlex.quote(code)


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


def _report(results: list[dict], path: str) -> None:
    from reports.render import render

    with tempfile.TemporaryDirectory() as tmp:
        env = Path(tmp) / "check"
        env.mkdir()
        (env / "results.jsonl").write_text("".join(dumps(r) + "\n" for r in results))
        render([env], Path(path))
    print(f"report: {path}")
