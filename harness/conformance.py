"""Drive one property over Hypothesis-generated cases for one implementation
and dtype, and summarise it as a Result.

Hypothesis shrinks a failure to a minimal counterexample and replays it last;
that replay's exception carries the Finding and the Case, so the stored case
is the shrunk one and the same seed gives the same bytes.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from dataclasses import dataclass, field

import numpy as np
from hypothesis import given, settings, target
from hypothesis import strategies as st

from . import budgets, upstream_rules, verdicts
from .arrays import encode_array
from .capability import dtype_refusal
from .evaluate import call_clock
from .properties import PROPERTIES
from .records import Case, Finding, Impl, Result, finite_or_none
from .seeding import choose_seed
from .strategies import cases
from .strategies.constant_pool import fixed_constant_pool
from .strategies.hypothesis_helpers import regimes_for

INLINE_CASE_LIMIT = 4096  # elements: failing cases above this are stored, not inlined in the reproducer
MAX_POINTS = 64


class ConformanceFailure(AssertionError):
    def __init__(self, finding: Finding, case: Case):
        super().__init__(f"{finding.property}: {finding.verdict}: {finding.message}")
        self.finding, self.case = finding, case


@dataclass
class Tracker:
    """The worst finding seen over all examples (passing ones included)."""

    worst: Finding | None = None
    worst_case: Case | None = None
    examples: int = 0
    unsupported: int = 0
    unsupported_reason: str = ""
    regimes: dict = field(default_factory=dict)
    points: list = field(default_factory=list)
    outputs: dict = field(default_factory=dict)
    max_ulp: float | None = None
    rules: dict = field(default_factory=dict)  # upstream rule -> tally over the examples (upstream_rules)

    def observe(self, case: Case, f: Finding) -> None:
        self.examples += 1
        if "rules" in f.stats:
            upstream_rules.observe(self.rules, f.verdict, f.stats["rules"])
        self.regimes[case.regime] = self.regimes.get(case.regime, 0) + 1
        if f.max_ulp is not None and np.isfinite(f.max_ulp):
            self.max_ulp = f.max_ulp if self.max_ulp is None else max(self.max_ulp, f.max_ulp)
        if self.worst is None or _weight(f) > _weight(self.worst):
            self.worst, self.worst_case = f, case
        for p in f.stats.get("points", [])[:8]:
            if len(self.points) < MAX_POINTS:
                self.points.append(p)
        if "output_sha" in f.stats and len(self.outputs) < 32:
            self.outputs[case.id] = f.stats["output_sha"]


def _weight(f: Finding) -> tuple:
    """Which finding a property reports: any graded one before "unsupported"
    (an example the property could not be applied to, such as logits with no
    exact shift), then the most severe.  Ranked by severity alone, one such
    example hid every graded one, and the property read as never checked."""
    return (f.verdict != "unsupported", verdicts.severity(f))


def _blob(exc: BaseException) -> str | None:
    for note in getattr(exc, "__notes__", []) or []:
        m = re.search(r"@reproduce_failure\((.*)\)", note)
        if m:
            return m.group(1)
    return None


def reproducer(impl: Impl, case: Case, prop: str, stored_in: str | None = None) -> str:
    """A one-line command that replays the case on the implementation."""
    import shlex

    from .registry import env_prefix

    prefix = env_prefix()
    if case.logits.size <= INLINE_CASE_LIMIT or stored_in is None:
        import json

        blob = json.dumps(case.to_json(), separators=(",", ":"))
        return prefix + "python -c " + shlex.quote(
            f"import harness; print(harness.replay({blob!r}, {impl.id!r}, {prop!r}))")
    return prefix + f"softmax-harness replay {stored_in} {case.id} {shlex.quote(impl.id)} {prop}"


def explore(impl: Impl, dtype: str, prop: str, budget: str = "ci", gate: str = "bounded",
            long_rows: bool = False, max_examples: int | None = None, seed: int | None = None,
            env: dict | None = None, database: bool = False) -> Result:
    """Run property ``prop`` on Hypothesis cases for ``impl`` in ``dtype``.

    The example budget is split over the regimes, one Hypothesis run each, so
    that a short (ci) budget still reaches every regime at least
    ``MIN_PER_REGIME`` times instead of whatever a 30-draw sample happens to
    hit.  The first failing regime stops the search.

    ``seed`` None: the budget's derandomized draws (ci), else ``DEFAULT_SEED``,
    so that no search depends on chance unless a caller draws the seed.
    ``database``: replay and save failing examples (for random seeds)."""
    fixed_constant_pool()  # draws depend on the strategy and seed, not on our source
    if seed is None:
        seed = choose_seed(None, budget).value  # the one rule: fixed default, or derandomized
    # derandomized (seed None): the budget's fixed draws, budgets.DERANDOMIZED_SEED
    draws = budgets.DERANDOMIZED_SEED if seed is None else seed
    fn = PROPERTIES[prop].fn
    tracker = Tracker()
    t0, c0 = time.perf_counter(), call_clock()
    if long_rows or budget == "thorough":
        long_rows = True
    total = max_examples if max_examples is not None else budgets.BUDGETS[budgets.check(budget)]["max_examples"]
    regimes = regimes_for(impl.function)
    if impl.ranks is not None and max(impl.ranks) < 2:
        regimes = tuple(r for r in regimes if r != "hetero-rows")  # needs two slices
    per = max(budgets.MIN_PER_REGIME if max_examples is None else 1, math.ceil(total / len(regimes)))
    failure: ConformanceFailure | None = None
    blob = None
    for regime in regimes:
        strategy = cases(impl.function, dtype, regimes=(regime,), ranks=impl.ranks,
                         last_axis_only=impl.last_axis_only, long_rows=long_rows,
                         max_elements=1 << 23 if long_rows else 2048)
        hyp = budgets.hypothesis_settings(budget, database, max_examples=per)
        inner = _property_test(impl, fn, strategy, tracker, gate, hyp, (impl.id, prop, dtype, regime))
        inner = _seeded(inner, draws)
        try:
            inner()
        except ConformanceFailure as e:
            failure, blob = e, _blob(e)
            break
    dur, calls = time.perf_counter() - t0, call_clock() - c0
    if failure is not None and failure.finding.verdict == "error":
        refused = dtype_refusal(impl, dtype, failure.finding.message)
        if refused:  # the whole dtype is refused with one clear exception: unsupported, not a defect
            return Result(impl.id, impl.family, impl.function, prop, dtype, "-", "unsupported",
                          message=f"unsupported ({refused})", device=impl.device, env=env or {}, duration=dur,
                          call_seconds=calls, stats={"examples": tracker.examples, "refused": refused})
    res = _result(impl, dtype, prop, tracker, failure, blob, dur, env or {}, seed)
    res.call_seconds = calls
    return res


def _property_test(impl: Impl, fn, strategy, tracker: Tracker, gate: str, config: settings, key: tuple):
    @config
    @given(case=strategy)
    def inner(case: Case) -> None:
        reason = impl.unsupported(case)
        if reason:
            tracker.unsupported += 1
            tracker.unsupported_reason = reason
            return
        f = fn(impl, case)
        tracker.observe(case, f)
        if f.max_ulp is not None and f.budget_ulp:
            # Guide the search towards larger errors relative to the budget
            # (an infinite budget or error gives no usable signal).
            with np.errstate(all="ignore"):
                ratio = float(f.max_ulp) / float(f.budget_ulp)
            if math.isfinite(ratio):
                target(float(np.log2(1 + min(max(ratio, 0.0), 1e30))), label="error/budget")
        if not verdicts.passes(f.verdict, gate):
            raise ConformanceFailure(f, case)

    # Every inner test has the same source: key the example database by what
    # is searched (as hypothesis.stateful tells its tests apart), and never
    # tokenize the source per search (Hypothesis's default key).
    inner._hypothesis_internal_database_key = (
        hashlib.sha384("\0".join(map(str, ("softmax-harness", *key))).encode()).digest()
        if config.database is not None else None)
    return inner


def special_values(impl: Impl, dtype: str, env: dict | None = None, conventions: str | None = None) -> list[Result]:
    """One Result per fixed special-value input class (no Hypothesis);
    ``conventions``: "any" (default) or the one convention to gate on."""
    from .special_values import check_class, classes_for

    judged = []
    for name, values in classes_for(impl).items():
        t0, c0 = time.perf_counter(), call_clock()
        f, case = check_class(impl, dtype, name, values, conventions)
        judged.append((f, case, time.perf_counter() - t0, call_clock() - c0))
    errors = [f.stats["error"] for f, _, _, _ in judged if f.verdict == "error"]
    refused = dtype_refusal(impl, dtype, errors[0]) if errors else None
    out = []
    for f, case, dt, calls in judged:
        if refused and f.stats.get("error") == errors[0]:  # the dtype raises this on every call: unsupported
            f.verdict, f.message = "unsupported", f"unsupported ({refused})"
            f.stats["convention"] = "unsupported"
        out.append(Result(impl.id, impl.family, impl.function, "special_values", dtype, case.regime, f.verdict,
                          message=f.message, case_id=case.id, case=case.to_json(), device=impl.device,
                          env=env or {}, duration=dt, call_seconds=calls, stats=f.stats,
                          reproducer=reproducer(impl, case, "special_values")
                          if not verdicts.passes(f.verdict) else ""))
    return out


def upstream(impl: Impl, dtype: str, env: dict | None = None) -> list[Result]:
    """One Result per upstream-regression case of the implementation's
    function in ``dtype`` (harness.upstream_corpus; no Hypothesis), its
    regime the case's upstream tag.  A dtype the implementation raises on for
    every case is unsupported, as in special_values."""
    from .upstream_corpus import cases_for, check_case

    judged = []
    for case in cases_for(impl, dtype):
        t0, c0 = time.perf_counter(), call_clock()
        judged.append((check_case(impl, case), case, time.perf_counter() - t0, call_clock() - c0))
    if not judged:
        return [Result(impl.id, impl.family, impl.function, "upstream", dtype, "-", "unsupported",
                       message=f"no upstream case for {impl.function} in {dtype}", device=impl.device, env=env or {})]
    errors = [f.stats["error"] for f, _, _, _ in judged if f.stats.get("error")]
    refused = dtype_refusal(impl, dtype, errors[0]) if errors and len(errors) == len(judged) else None
    out = []
    for f, case, dt, calls in judged:
        if refused:
            f.verdict, f.message = "unsupported", f"unsupported ({refused})"
            f.stats["cell"] = "unsupported"
        out.append(Result(impl.id, impl.family, impl.function, "upstream", dtype, case.regime, f.verdict,
                          max_ulp=finite_or_none(f.max_ulp), budget_ulp=finite_or_none(f.budget_ulp),
                          message=f.message, worst_index=f.worst_index, case_id=case.id, case=case.to_json(),
                          device=impl.device, env=env or {}, duration=dt, call_seconds=calls, stats=f.stats,
                          reproducer=reproducer(impl, case, "upstream") if not verdicts.passes(f.verdict) else ""))
    return out


FIXED = ("special_values", "upstream")  # properties judged on fixed inputs, one Result each, not by search


def fixed(impl: Impl, dtype: str, prop: str, env: dict | None = None, conventions: str | None = None
          ) -> list[Result]:
    """The Results of a fixed-input property (one of FIXED)."""
    if prop == "special_values":
        return special_values(impl, dtype, env, conventions)
    return upstream(impl, dtype, env)


def _seeded(test, seed: int):
    from hypothesis import seed as hseed

    config = test._hypothesis_internal_use_settings
    test = hseed(seed)(test)
    if config.database is not None:
        # hypothesis.seed turns the database off (a seed usually reproduces);
        # a random-seed run is a search whose failures later runs replay.
        test._hypothesis_internal_use_settings = config
    return test


def _result(impl, dtype, prop, tr: Tracker, failure, blob, dur, env, seed) -> Result:
    if failure is not None:
        f, case = failure.finding, failure.case
    elif tr.worst is not None:
        f, case = tr.worst, tr.worst_case
    else:
        reason = tr.unsupported_reason or "no example drawn"
        return Result(impl.id, impl.family, impl.function, prop, dtype, "-", "unsupported", message=reason,
                      device=impl.device, env=env, duration=dur, stats={"examples": 0,
                                                                        "unsupported": tr.unsupported})
    stats = {"examples": tr.examples, "unsupported": tr.unsupported, "regimes": tr.regimes,
             "points": tr.points, "outputs": tr.outputs, "search_max_ulp": finite_or_none(tr.max_ulp),
             "grades": f.stats.get("grades", {})}
    if tr.rules:
        stats["rules"] = tr.rules
    res = Result(
        impl=impl.id, family=impl.family, function=impl.function, property=prop, dtype=dtype,
        regime=case.regime, verdict=f.verdict, max_ulp=finite_or_none(f.max_ulp),
        budget_ulp=finite_or_none(f.budget_ulp), message=f.message, worst_index=f.worst_index,
        case_id=case.id, device=impl.device, env=env, duration=dur, stats=stats,
        hypothesis={"blob": blob, "seed": seed} if (blob or seed is not None) else None,
    )
    failing = failure is not None
    if failing or case.logits.size <= 256:
        res.case = case.to_json()
    if failing:
        res.reproducer = reproducer(impl, case, prop)
        try:
            from .evaluate import expected, invoke

            # The arrays the property graded, as it graded them.  A property that judged other
            # inputs than the case's own (sigmoid_equivalence's pairs) or failed before calling
            # kept none: the case's own call and expected values are shown instead.
            out = f.output if f.output is not None else invoke(impl, case).output
            exp = f.expected if f.expected is not None else \
                expected(case, impl.function, impl.judge_dtype(case), impl.profile).rounded
            if out is not None and out.size <= INLINE_CASE_LIMIT:
                res.output = encode_array(out)
            if exp.size <= INLINE_CASE_LIMIT:
                res.expected = encode_array(exp)
            elif out is not None:
                _keep_worst_slice(res, case, out, exp, f.worst_index)
        except Exception as e:  # the failure is already recorded; detail is best effort
            res.stats["detail_error"] = f"{type(e).__name__}: {e}"
    return res


def _keep_worst_slice(res: Result, case: Case, out: np.ndarray, exp: np.ndarray, idx: list | None) -> None:
    """A case too long to keep whole keeps the slice (along the axis) holding
    the worst element: input, output and expected, for diagnosis and readers."""
    out = np.asarray(out)
    if idx is None or len(idx) != case.logits.ndim or out.shape != case.logits.shape != () \
            or exp.shape != out.shape:
        return
    at = tuple(slice(None) if a == case.norm_axis else int(i) for a, i in enumerate(idx))
    res.stats["worst_slice"] = {"index": [int(i) for i in idx], "logits": encode_array(case.logits[at]),
                                "output": encode_array(out[at]), "expected": encode_array(exp[at])}




def env_id_default() -> str:
    return os.environ.get("TOX_ENV_NAME") or os.uname().nodename


__all__ = ["ConformanceFailure", "explore", "reproducer", "st"]
