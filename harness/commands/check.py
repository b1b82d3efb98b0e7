"""`softmax-harness check TARGET`: judge a user's own function.

TARGET is ``pkg.module:function`` (importable from the current directory or
PYTHONPATH) or ``path/to/file.py:function``.  Calling conventions
(``--function``) are in ``harness.targets.CONVENTIONS``.

The user's code runs in a child process, one (dtype, property) task at a
time (``harness.isolation``): a hung call is the verdict ``timeout``, a dead
child ``crash``, and a fresh child carries on with the remaining tasks.

Output options are checked before anything runs.  Every Result is written to
``--json`` (locked against a second writer) and flushed as it arrives, so an
interrupted run keeps what it computed; SIGTERM and ^C end the child with
the run, and a closed stdout (``| head``) ends the run quietly.  Exit status:
0 conformant, 1 not, 2 usage error, 3 incomplete (a timeout: not judged);
130 (^C), 141 (stdout closed), 143 (SIGTERM).
"""

from __future__ import annotations

import sys
import time

from ..dtypes import DTYPES
from ..isolation import MAX_HUNG_IN_A_ROW, run_tasks
from ..records import Case, Result
from ..seeding import DB_ENV, DEFAULT_DB, DEFAULT_SEED
from ..special_values import GATES
from ..targets import CONVENTIONS, canonical_target, target_impl
from ..upstream_rules import describe
from . import argtypes
from .check_output import (
    Stop,
    _describe,
    _report,
    _store_long_case,
    check_paths,
    clip,
    on_sigterm,
    open_json,
    say,
)

DEFAULT_TIMEOUT = 60.0
EXIT_INCOMPLETE = 3  # nothing judged failed, but a timeout left something unjudged


def register(sub) -> None:
    p = sub.add_parser(
        "check", help="check your own implementation: verdict per property x dtype, worst input, reproducer",
        description="Run the property suite on your function, in a child process. Exit 0 conformant, "
                    "1 non-conformant (out-of-bound or worse, crash), 2 usage error, 3 incomplete (a timeout left "
                    "something unjudged and nothing judged failed); ended early "
                    "(the child with it, --json keeping what was computed): 130 ^C, 141 stdout closed "
                    "(| head), 143 SIGTERM.")
    p.add_argument("target", help="pkg.module:function or path/to/file.py:function")
    p.add_argument("--function", default="softmax", metavar="NAME", choices=CONVENTIONS,
                   help="what TARGET computes (default softmax). Calling conventions: "
                        + "; ".join(f"{k}: {v}" for k, v in CONVENTIONS.items()))
    p.add_argument("--dtypes", type=argtypes.dtype_list,
                   help=f"comma-separated subset of {','.join(DTYPES)} (default: all)")
    p.add_argument("--max-examples", type=argtypes.positive_int,
                   help="Hypothesis examples per property and dtype, split over the regimes (default: the "
                        "budget's, at least 3 per regime; check 65: 5 per softmax regime)")
    p.add_argument("--seed", default=None,
                   help=f"Hypothesis seed: an integer, or 'random' to draw one (printed, to repeat with --seed N; "
                        f"random runs also replay the failures earlier ones saved in {DEFAULT_DB}, env {DB_ENV}); "
                        f"default {DEFAULT_SEED}, so the same code and versions give the same verdict "
                        f"(the ci budget is derandomized instead)")
    p.add_argument("--budget", "--profile", dest="budget", default="check", type=argtypes.budget,
                   help="example budget: check (default: 5 examples per regime, under about 10 s for a "
                        "conformant softmax in four dtypes), dev (3 per regime), ci (derandomized, 3 per regime) "
                        "or thorough (300 examples, rows up to 2**17); --profile is the old name")
    p.add_argument("--timeout", type=argtypes.positive_float, default=DEFAULT_TIMEOUT,
                   help=f"seconds one call of TARGET (with its checking) may go without finishing before it "
                        f"counts as hung: verdict timeout (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--conventions", default="any", metavar="NAME", choices=GATES,
                   help="special-value convention to gate on: any (default: NaN slice (ieee), limits (limit), "
                        "zeros (masked) or, for the empty axis, a clear exception all pass if followed "
                        "consistently), ieee, limit or masked")
    p.add_argument("--json", metavar="FILE", help="write the Results as JSON Lines, one flushed line per result; "
                                                  "FILE is locked for the run, and a FILE another check is "
                                                  "writing is refused (usage error)")
    p.add_argument("--report", metavar="FILE.html", help="also render a self-contained HTML report")
    p.set_defaults(func=main)


def _tasks(function: str, dtypes: list[str]) -> list[tuple[str, str]]:
    from ..properties import PROPERTIES, applies

    return [(d, p) for d in dtypes for p in PROPERTIES if applies(p, function)]


# --------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------


def _rank(r: Result) -> tuple:
    """Headline order: numerical defects (out-of-bound, wrong-special) first,
    then the rest in verdicts.HEADLINE order; within a kind, a failure on
    searched input before a fixed one (a special-value class, an upstream
    case), then the larger error."""
    from .. import verdicts

    v = r.verdict
    numerical = v in ("wrong-special", "out-of-bound")
    searched = not r.regime.startswith(("special:", "upstream:"))
    kind = -verdicts.HEADLINE.index(v) if v in verdicts.HEADLINE else -99
    return (numerical, searched, kind, r.max_ulp or 0)


def main(args) -> int:
    import signal
    import threading

    # SIGTERM must unwind like ^C does, so that the child ends with the run.
    mine = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_sigterm) if mine else None
    try:
        return _check(args)
    except Stop as stop:
        if stop.note:
            sys.stderr.write(f"softmax-harness check: {stop.note}\n")
        return stop.status
    finally:
        if mine:
            signal.signal(signal.SIGTERM, previous)


def _check(args) -> int:
    from .. import verdicts
    from ..seeding import choose_seed

    dtypes = list(DTYPES) if args.dtypes is None else args.dtypes  # option values were checked by the parser
    seed = choose_seed(args.seed, args.budget)
    check_paths(args.json, args.report)
    impl = target_impl(args.target, args.function)  # usage errors surface here, in the parent
    target = canonical_target(args.target)
    out = open_json(args.json) if args.json else None
    results: list[Result] = []
    say(f"checking {impl.id} ({CONVENTIONS[args.function]}); budget {args.budget}, {seed.describe()}, "
          f"dtypes {','.join(dtypes)}")

    tasks = _tasks(args.function, dtypes)
    width = max(len(p) for _, p in tasks)

    def line(ok: bool, dtype: str, prop: str, verdict: str, message: str) -> None:
        label = "ok  " if ok else ("----" if verdict in verdicts.NOT_JUDGED else "FAIL")
        say(f"{label} {dtype:9} {prop:{width}} {verdict:14} {clip(message, 110)}")

    def sink_task(rs: list[Result]) -> None:
        for r in rs:
            _store_long_case(r, args.json)
            results.append(r)
            if out:
                out.write(r.dumps() + "\n")
                out.flush()
        if rs and rs[0].property == "special_values" and len(rs) > 1:
            bad = [r for r in rs if not verdicts.passes(r.verdict)]
            for r in bad:
                line(False, r.dtype, "special_values", r.verdict, r.message)
            if not bad:
                line(True, rs[0].dtype, "special_values", verdicts.worst(r.verdict for r in rs),
                     f"{len(rs)} input classes, each following a convention")
            return
        if rs and rs[0].property == "upstream" and len(rs) > 1:  # the corpus: failures one by one, else one line
            bad = [r for r in rs if not verdicts.passes(r.verdict)]
            for r in bad:
                line(False, r.dtype, "upstream", r.verdict, f"{r.regime}: {r.message}")
            if not bad:
                line(True, rs[0].dtype, "upstream", verdicts.worst(r.verdict for r in rs),
                     f"{len(rs)} upstream-regression cases ({', '.join(r.regime[9:] for r in rs)})")
            return
        for r in rs:
            line(verdicts.passes(r.verdict), r.dtype, r.property, r.verdict, r.message)
            if r.stats.get("rules"):  # what torch's, FlashAttention's and WebNN's rules would have said
                say(f"{'':{width + 30}}{describe(r.stats['rules'], r.verdict)}")

    opts = {"budget": args.budget, "max_examples": args.max_examples, "seed": seed.value, "database": seed.random,
            "conventions": args.conventions}
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
            say(f"---- {dtype:9} not run ({what}): the target hung in {MAX_HUNG_IN_A_ROW} tasks in a row")
    return _verdict(args, results, skipped, time.perf_counter() - t0, impl)


def _verdict(args, results: list[Result], skipped: list, seconds: float, impl) -> int:
    """The closing lines: conventions found, then CONFORMANT (0),
    NON-CONFORMANT (1) or INCOMPLETE (3: nothing failed, something was not
    judged), with the headline failure, its input and a reproducer."""
    from .. import verdicts
    from ..special_values import mixed_dtypes, summary

    special = [r for r in results if r.property == "special_values"]
    if special:
        say(f"conventions: {summary(special) or 'none followed'}")
    refused = {r.dtype: r.stats["refused"] for r in results if r.stats.get("refused")}
    for dtype, why in refused.items():
        say(f"unsupported: {dtype} ({why})")
    mixed = mixed_dtypes(special)
    for m in mixed:
        say(f"FAIL mixed conventions across dtypes: {m}")
    not_judged = [r for r in results if r.verdict in verdicts.NOT_JUDGED]
    bad = [r for r in results if not verdicts.passes(r.verdict) and r.verdict not in verdicts.NOT_JUDGED]
    say(f"\n{len(results)} results in {seconds:.1f} s" + (f", written to {args.json}" if args.json else ""))
    unjudged = len(not_judged) + len(skipped)
    if args.report:
        _report(results, args.report, impl, seconds,
                f"{unjudged} tasks not judged (the target hung)" if unjudged else None)
    tail = f"; {unjudged} tasks not judged (timeout)" if unjudged else ""
    if not bad and not mixed and not unjudged:
        say("verdict: CONFORMANT")
        return 0
    if not bad and not mixed:
        say(f"verdict: INCOMPLETE ({unjudged} tasks not judged: the target hung; nothing judged failed)")
        _headline(max(not_judged, key=_rank) if not_judged else None)
        return EXIT_INCOMPLETE
    if not bad:
        say(f"verdict: NON-CONFORMANT (mixed conventions across dtypes{tail})")
        return 1
    from ..diagnosis import diagnose

    worst = max(bad, key=_rank)
    say(f"verdict: NON-CONFORMANT ({len(bad)} failing{tail}; worst: {worst.verdict} in {worst.property}, "
        f"{worst.dtype}, regime {worst.regime}: {clip(worst.message, 200)})")
    for cause in diagnose(bad)[:3]:
        say(f"likely cause: {cause}")
    _headline(worst)
    return 1


def _headline(r: Result | None) -> None:
    if r is None:
        return
    if r.case:
        say(f"worst input: {_describe(Case.from_json(r.case))}")
    if r.reproducer:
        say(f"reproduce: {r.reproducer}")
