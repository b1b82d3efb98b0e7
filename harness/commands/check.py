"""`softmax-harness check TARGET`: judge a user's own function.

TARGET is ``pkg.module:function`` or ``path/to/file.py:function``.  Calling
conventions (``--function``): softmax, log_softmax: ``fn(x, axis=-1)``, same
shape and dtype; logsumexp: ``fn(x, axis=-1)`` reduces ``axis``; sigmoid:
``fn(x)``; softmax_jacobian: ``fn(x)`` with x of shape (N, k), returning
(N, k, k).

The user's code runs in a child process, one (dtype, property) task at a
time, each under ``--timeout`` seconds: a segfault or abort is the verdict
``crash`` and a hang is ``timeout`` for that task; a fresh child carries on
with the rest.  Results are written to ``--json`` as they arrive.
Exit status: 0 conformant, 1 not, 2 usage error.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

CONVENTIONS = {"softmax": "fn(x, axis)", "log_softmax": "fn(x, axis)", "logsumexp": "fn(x, axis)",
               "sigmoid": "fn(x)", "softmax_jacobian": "fn(x) on (N, k) -> (N, k, k)"}


def register(sub) -> None:
    p = sub.add_parser("check", help="check your own implementation: verdict, worst input, one-line reproducer")
    p.add_argument("target", help="pkg.module:function or path/to/file.py:function")
    p.add_argument("--function", default="softmax",
                   help="what TARGET computes: " + "; ".join(f"{k} {v}" for k, v in CONVENTIONS.items()))
    p.add_argument("--dtypes", help="comma-separated (default float16,bfloat16,float32,float64)")
    p.add_argument("--max-examples", type=int, help="Hypothesis examples per property (default: the profile's)")
    p.add_argument("--seed", type=int, help="Hypothesis seed (default: random, or derandomized for --profile ci)")
    p.add_argument("--profile", default="dev", help="dev (default), ci or thorough")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per (dtype, property) task (default 120)")
    p.add_argument("--json", help="write the results as JSON Lines to this file")
    p.add_argument("--report", help="also render an HTML report to this file")
    p.set_defaults(func=main)


def load_target(target: str):
    """The callable named by TARGET, or a UsageError saying what is wrong."""
    from ..registry import UsageError

    mod_part, sep, attr = target.rpartition(":")
    if not sep or not mod_part or not attr:
        raise UsageError(f"target {target!r} must be pkg.module:function or path/to/file.py:function")
    try:
        if mod_part.endswith(".py") or "/" in mod_part:
            path = Path(mod_part)
            if not path.is_file():
                raise UsageError(f"target file {mod_part} does not exist")
            spec = importlib.util.spec_from_file_location(f"_check_{path.stem}", path)
            mod = importlib.util.module_from_spec(spec)
            sys.path.insert(0, str(path.resolve().parent))
            spec.loader.exec_module(mod)
        else:
            mod = importlib.import_module(mod_part)
    except UsageError:
        raise
    except Exception as e:
        raise UsageError(f"cannot import {mod_part}: {type(e).__name__}: {e}".splitlines()[0]) from None
    fn = getattr(mod, attr, None)
    if fn is None:
        raise UsageError(f"{mod_part} has no attribute {attr!r}")
    if not callable(fn):
        raise UsageError(f"{target} is not callable")
    return fn


def target_impl(target: str, function: str):
    from ..records import Impl
    from ..registry import UsageError

    if function not in CONVENTIONS:
        raise UsageError(f"function {function!r} cannot be checked; choose from {', '.join(CONVENTIONS)}")
    fn = load_target(target)
    kw = {}
    if function == "sigmoid":
        call = lambda c: fn(c.logits)  # noqa: E731
    elif function == "softmax_jacobian":
        call = lambda c: fn(c.logits)  # noqa: E731
        kw = dict(ranks=(2,), last_axis_only=True)
    else:
        call = lambda c: fn(c.logits, c.axis)  # noqa: E731
    return Impl(f"check:{target}:{function}", "user", function, call, risky=True,
                notes=f"user target, {CONVENTIONS[function]}", **kw)


def _tasks(function: str, dtypes: list[str]) -> list[tuple[str, str]]:
    from ..properties import PROPERTIES, applies

    return [(d, p) for d in dtypes for p in PROPERTIES if applies(p, function)]


def _child(conn, target, function, opts) -> None:
    """Runs in the child: one task per message, one list of Result dicts back."""
    from ..conformance import explore, special_values

    impl = target_impl(target, function)
    while True:
        task = conn.recv()
        if task is None:
            return
        dtype, prop = task
        if prop == "special_values":
            res = special_values(impl, dtype, {"env_id": "check"})
        else:
            res = [explore(impl, dtype, prop, profile=opts["profile"], max_examples=opts["max_examples"],
                           seed=opts["seed"], env={"env_id": "check"})]
        conn.send([r.to_json() for r in res])


def _failed(impl, dtype: str, prop: str, verdict: str, message: str) -> dict:
    from ..records import Result

    return Result(impl.id, impl.family, impl.function, prop, dtype, "-", verdict, message=message,
                  env={"env_id": "check"}).to_json()


def run_tasks(impl, target: str, function: str, tasks, opts, timeout: float, sink):
    """Feed tasks to a child; a dead or silent child costs only its task."""
    ctx = mp.get_context("spawn")
    proc = conn = None
    for dtype, prop in tasks:
        if proc is None or not proc.is_alive():
            conn, child_end = ctx.Pipe()
            proc = ctx.Process(target=_child, args=(child_end, target, function, opts), daemon=True)
            proc.start()
        conn.send((dtype, prop))
        t0 = time.monotonic()
        got = None
        while time.monotonic() - t0 < timeout:
            if conn.poll(0.2):
                try:
                    got = conn.recv()
                except EOFError:
                    break
                break
            if not proc.is_alive():
                break
        if got is not None:
            for r in got:
                sink(r)
            continue
        if proc.is_alive():
            proc.kill()
            proc.join()
            sink(_failed(impl, dtype, prop, "timeout", f"no answer within {timeout:g} s; the child was killed"))
        else:
            proc.join()
            code = proc.exitcode
            sink(_failed(impl, dtype, prop, "crash", f"the child process died (exit code {code}) running "
                                                       f"{prop} in {dtype}"))
        proc = None
    if proc is not None and proc.is_alive():
        conn.send(None)
        proc.join(5)


def main(args) -> int:
    from oracles import DTYPE_NAMES

    from .. import policy
    from ..conformance import PROFILES
    from ..records import Case
    from ..registry import UsageError, split_csv

    dtypes = split_csv(args.dtypes) or list(DTYPE_NAMES)
    for d in dtypes:
        if d not in DTYPE_NAMES:
            raise UsageError(f"unknown dtype {d!r}; expected one of {', '.join(DTYPE_NAMES)}")
    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; expected one of {', '.join(PROFILES)}")
    if args.max_examples is not None and args.max_examples < 1:
        raise UsageError("--max-examples must be at least 1")
    impl = target_impl(args.target, args.function)  # usage errors surface here, in the parent
    out = open(args.json, "w", encoding="utf-8") if args.json else None
    results: list[dict] = []

    def sink(r: dict) -> None:
        results.append(r)
        if out:
            out.write(json.dumps(r, allow_nan=False, default=str) + "\n")
            out.flush()
        if not r["property"] == "special_values" or not policy.passes(r["verdict"]):
            mark = "ok  " if policy.passes(r["verdict"]) else "FAIL"
            print(f"{mark} {r['dtype']:9} {r['property']:20} {r['verdict']:14} {r['message'][:110]}", flush=True)

    opts = {"profile": args.profile, "max_examples": args.max_examples, "seed": args.seed}
    t0 = time.perf_counter()
    try:
        run_tasks(impl, args.target, args.function, _tasks(args.function, dtypes), opts, args.timeout, sink)
    finally:
        if out:
            out.close()
    bad = [r for r in results if not policy.passes(r["verdict"])]
    print(f"\n{impl.id}: {len(results)} results in {time.perf_counter() - t0:.1f} s")
    if args.report:
        _report(results, args.report)
    if not bad:
        print("verdict: CONFORMANT")
        return 0
    worst = max(bad, key=lambda r: (policy.VERDICTS.index(r["verdict"]) if r["verdict"] in policy.VERDICTS
                                    else 99, r.get("max_ulp") or 0))
    print(f"verdict: NON-CONFORMANT ({len(bad)} failing: worst {worst['verdict']} in {worst['property']}, "
          f"{worst['dtype']})")
    if worst.get("case"):
        print(f"worst input: {Case.from_json(worst['case']).short(8)}")
    if worst.get("reproducer"):
        print(f"reproduce: {worst['reproducer']}")
    return 1


def _report(results: list[dict], path: str) -> None:
    import tempfile

    from reports.render import render

    with tempfile.TemporaryDirectory() as tmp:
        env = Path(tmp) / "check"
        env.mkdir()
        (env / "results.jsonl").write_text("".join(json.dumps(r, default=str) + "\n" for r in results))
        render([env], Path(path))
    print(f"report: {path}")
