"""Verdicts a user can act on: conventions are not defects, a refused dtype
is unsupported, a timeout is not judged, FTZ is named, mutation does not hide
numerics, and the headline names the numerical defect first."""

from __future__ import annotations

import json

import ml_dtypes
import numpy as np
import pytest
from test_check import check

from harness import verdicts
from harness.commands.check import _rank
from harness.evaluate import accuracy
from harness.properties import PROPERTIES
from harness.records import Case, Finding, Impl, Result
from harness.special_values import ROW_CLASSES, check_class, mixed_dtypes, summary
from harness.strategies.dtype_helpers import cast

FIX = "tests/self/fixtures/verdict_kernels.py"


def _impl(fn, name="t", **kw) -> Impl:
    return Impl(f"test.{name}", "test", "softmax", lambda c: fn(c.logits, c.axis), **kw)


def _stable(x, axis=-1):
    w = x.astype(np.float64)
    e = np.exp(w - np.max(w, axis=axis, keepdims=True))
    return (e / np.sum(e, axis=axis, keepdims=True)).astype(x.dtype)


def _limit(x, axis=-1):  # +inf logits share probability 1: the limit convention
    w = x.astype(np.float64)
    pinf = np.isposinf(w)
    if pinf.any(axis=axis, keepdims=True).any():
        w = np.where(pinf.any(axis=axis, keepdims=True), np.where(pinf, 0.0, -np.inf), w)
    return _stable(w, axis).astype(x.dtype)


# --- `check` on the textbook code that must pass ----------------------------


@pytest.mark.parametrize(("fn", "function"), [("textbook_softmax", "softmax"), ("upcast_softmax", "softmax"),
                                              ("textbook_log_softmax", "log_softmax"),
                                              ("scipy_like_logsumexp", "logsumexp")])
def test_correct_textbook_code_is_conformant_with_its_conventions(fn, function):
    # Textbook numpy code that sums in the input dtype is wrong in float16 on a long non-contiguous axis
    # (the next test): the softmax's and the logsumexp's sums; not here.
    half_sum = fn in ("textbook_softmax", "scipy_like_logsumexp")
    dtypes = "float32,float64" if half_sum else "float16,float32,float64"
    r = check(f"{FIX}:{fn}", "--function", function, "--dtypes", dtypes)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert "verdict: CONFORMANT" in r.stdout
    conv = next(ln for ln in r.stdout.splitlines() if ln.startswith("conventions: "))
    assert "empty -> raises ValueError" in conv, conv
    assert ("+inf -> NaN (ieee)" in conv) == (function != "logsumexp"), conv  # lse: +inf under every convention


@pytest.mark.parametrize(("fn", "function"), [("textbook_softmax", "softmax"), ("scipy_like_logsumexp", "logsumexp")])
def test_textbook_code_in_float16_is_flagged_with_the_accumulation_diagnosis(fn, function):
    # numpy reduces float16 along a non-contiguous axis with a running float16 sum (pairwise float32
    # only along a contiguous one): the probabilities of a long axis-0 slice are off by percents,
    # and a logsumexp of 257 terms by a hundred ulps (found once check's default budget grew).
    assert float(np.ones((4097, 2), np.float16).sum(axis=0)[0]) == 2048.0
    r = check(f"{FIX}:{fn}", "--function", function, "--dtypes", "float16")
    assert r.returncode == 1 and "verdict: NON-CONFORMANT" in r.stdout, r.stdout[-3000:]
    assert "likely cause: the sum is accumulated in float16" in r.stdout, r.stdout[-3000:]


def test_a_dtype_refused_with_one_clear_exception_is_unsupported(tmp_path):
    out = tmp_path / "r.jsonl"
    r = check(f"{FIX}:no_bfloat16_softmax", "--dtypes", "bfloat16,float32", "--json", str(out))
    assert r.returncode == 0, r.stdout[-3000:]
    assert "unsupported: bfloat16 (raises TypeError: bfloat16 is not supported)" in r.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {row["verdict"] for row in rows if row["dtype"] == "bfloat16"} == {"unsupported"}
    assert all(verdicts.passes(row["verdict"]) and row["verdict"] != "unsupported"
               for row in rows if row["dtype"] == "float32" and row["property"] != "shift_invariance")


def test_a_crash_on_some_inputs_is_not_mistaken_for_an_unsupported_dtype():
    from harness.capability import dtype_refusal

    def picky(x, axis=-1):
        if x.shape[axis] == 1:
            raise ValueError("axis of length 1")
        return _stable(x, axis)

    assert dtype_refusal(_impl(picky), "float32", "ValueError: axis of length 1") is None
    assert dtype_refusal(_impl(lambda x, a: 1 / 0), "float32", "ZeroDivisionError: division by zero") \
        == "raises ZeroDivisionError: division by zero"


def test_a_timeout_is_incomplete_not_non_conformant(tmp_path):
    out = tmp_path / "r.jsonl"
    r = check(f"{FIX}:slow_softmax", "--dtypes", "float32", "--timeout", "2", "--json", str(out), timeout=600)
    assert r.returncode == 3, r.stdout[-3000:]
    assert "verdict: INCOMPLETE" in r.stdout and "reproduce: " in r.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(row["verdict"] == "timeout" and row["case"] for row in rows)


# --- special values: conventions -------------------------------------------


def _classes(fn, dtype="float32", gate=None) -> dict:
    impl = _impl(fn)
    return {name: check_class(impl, dtype, name, values, gate)[0] for name, values in ROW_CLASSES.items()}


def test_each_recognised_convention_passes_and_is_named():
    ieee, lim = _classes(_stable), _classes(_limit)
    assert all(verdicts.passes(f.verdict) for f in ieee.values()), {k: f.message for k, f in ieee.items()}
    assert all(verdicts.passes(f.verdict) for f in lim.values()), {k: f.message for k, f in lim.items()}
    assert ieee["+inf"].stats["convention"] == "ieee" and lim["+inf"].stats["convention"] == "limit"
    assert ieee["empty"].stats["convention"] == "raises ValueError"
    line = summary([Result("t", "test", "softmax", "special_values", "float32", "special", f.verdict, stats=f.stats)
                    for f in lim.values()])
    assert "+inf -> limit (limit)" in line and "single" not in line, line


def test_gating_on_one_convention_fails_the_others():
    lim = _classes(_limit, gate="ieee")
    assert lim["+inf"].verdict == "wrong-special" and "not ieee" in lim["+inf"].message
    assert _classes(_stable, gate="ieee")["+inf"].verdict == "exact"


@pytest.mark.parametrize(("name", "fn", "cls"), [
    ("swallowed NaN", lambda x, a: np.nan_to_num(_stable(x, a)), "nan"),
    ("partial NaN", lambda x, a: np.where(np.isposinf(x), np.nan, _stable(np.where(np.isposinf(x), 0, x), a)),
     "+inf"),
    ("finite, not the limit", lambda x, a: _stable(np.where(np.isposinf(x), 10.0, x).astype(x.dtype), a),
     "two +inf"),
    ("raises off the empty axis", lambda x, a: _stable(x, a) if np.isfinite(x).all() or x.size == 0 else 1 / 0,
     "+inf"),
])
def test_output_that_follows_no_convention_fails(name, fn, cls):
    f = _classes(fn)[cls]
    assert not verdicts.passes(f.verdict), f"{name}: {f.verdict}: {f.message}"


def test_a_declared_raise_is_a_convention():
    def strict(x, a):
        if np.isnan(x.astype(np.float64)).any():
            raise ValueError("NaN logits")
        return _stable(x, a)

    assert _impl(strict) and check_class(_impl(strict), "float32", "nan", ROW_CLASSES["nan"])[0].verdict == "error"
    f = check_class(_impl(strict, raises_on=("nan",)), "float32", "nan", ROW_CLASSES["nan"])[0]
    assert f.verdict == "exact" and f.stats["convention"] == "raises ValueError"


def test_special_values_grade_each_call_output_not_a_remembered_one():
    # The conventions' verdicts are memoized on the output's bits: an implementation
    # that answers differently on a later call of the same class is graded on that answer.
    calls = []

    def drifting(x, a):
        calls.append(1)
        return _stable(x, a) if len(calls) <= 2 else np.nan_to_num(_stable(x, a))

    impl = _impl(drifting)
    assert check_class(impl, "float32", "+inf", ROW_CLASSES["+inf"])[0].verdict == "exact"
    f = check_class(impl, "float32", "+inf", ROW_CLASSES["+inf"])[0]
    assert not verdicts.passes(f.verdict) and len(calls) == 4, (f.verdict, f.message)


def test_a_convention_that_depends_on_the_shape_fails():
    def by_rank(x, a):  # the limit for one row, NaN in a batch
        return _limit(x, a) if x.ndim == 1 else _stable(x, a)

    f = _classes(by_rank)["+inf"]
    assert f.verdict == "wrong-special" and "mixed conventions" in f.message, f.message


def test_a_convention_that_depends_on_the_dtype_is_reported():
    a = check_class(_impl(_stable), "float32", "+inf", ROW_CLASSES["+inf"])[0]
    b = check_class(_impl(_limit), "float64", "+inf", ROW_CLASSES["+inf"])[0]
    def res(dtype, f):
        return Result("t", "test", "softmax", "special_values", dtype, "special", f.verdict, stats=f.stats)

    mixed = mixed_dtypes([res("float32", a), res("float64", b)])
    assert mixed and mixed[0].startswith("+inf: "), mixed
    assert not mixed_dtypes([res(d, a) for d in ("float32", "float64")])


# --- FTZ, mutation, headline ------------------------------------------------


def _flush(x, axis=-1):
    s = _stable(x, axis)
    tiny = np.finfo(s.dtype).tiny if s.dtype != ml_dtypes.bfloat16 else np.finfo(np.float32).tiny
    return np.where(np.abs(s.astype(np.float64)) < tiny, 0, s).astype(s.dtype)


@pytest.mark.parametrize(("dtype", "logits", "verdict"), [
    ("float32", [0.0, -100.0], "ftz"),  # e**-100 = 3.7e-44, subnormal in float32
    ("float64", [0.0, -720.0], "ftz"),
    ("float16", [0.0, -12.0], "out-of-bound"),  # e**-12 = 6.1e-6 < 6.1e-5: a probability that matters
])
def test_flushing_subnormal_results_is_named_and_fails_only_in_float16(dtype, logits, verdict):
    case = Case(cast(np.array(logits), dtype), -1, "underflow")
    impl = _impl(_flush)
    f = accuracy(impl, case, impl.call(case))
    assert f.verdict == verdict and "flushed to zero (FTZ)" in f.message, f.message
    assert PROPERTIES["stability"].fn(impl, case).verdict == ("ftz" if verdict == "ftz" else "out-of-bound")


def test_an_input_mutation_is_reported_beside_the_numerical_finding():
    def mutating_unshifted(c):
        e = np.exp(c.logits.astype(np.float64))
        c.logits[...] = 0
        return (e / e.sum(-1, keepdims=True)).astype(c.logits.dtype)

    impl = Impl("test.mut", "test", "softmax", mutating_unshifted)
    case = Case(np.array([800.0, 0.0]), -1, "near-overflow")
    assert PROPERTIES["contract"].fn(impl, case).verdict == "mutated-input"
    assert PROPERTIES["accuracy"].fn(impl, case).verdict == "wrong-special"  # NaN for 1: judged all the same


def test_the_headline_ranks_numerical_defects_before_errors():
    rows = [Result("i", "user", "softmax", prop, "float32", regime, verdict, max_ulp=ulp)
            for verdict, regime, prop, ulp in (("error", "ordinary", "accuracy", None),
                                               ("mutated-input", "ordinary", "contract", None),
                                               ("out-of-bound", "long-row", "accuracy", 40.0),
                                               ("wrong-special", "special:+inf", "special_values", None),
                                               ("crash", "ordinary", "accuracy", None))]
    assert max(rows, key=_rank).regime == "long-row"
    assert [r.verdict for r in sorted(rows, key=_rank, reverse=True)][:3] == \
        ["out-of-bound", "wrong-special", "crash"]


def test_an_empty_axis_is_judged_exactly_for_reductions():
    # No elements to budget: logsumexp of nothing is -inf under every convention; a crash here once
    # took down every logsumexp's special-value test.
    from harness.registry import get

    f = check_class(get("numpy.stable_logsumexp"), "float32", "empty", [])[0]
    assert f.verdict == "exact" and "-inf" in f.message, f.message
    lse = Impl("test.lse0", "test", "logsumexp", lambda c: np.zeros(c.logits.shape[:-1], c.logits.dtype))
    assert check_class(lse, "float32", "empty", [])[0].verdict == "wrong-special"


def test_a_property_that_could_not_apply_to_some_examples_still_reports_its_graded_ones():
    from harness.conformance import Tracker

    t, c = Tracker(), Case(np.zeros(3))
    t.observe(c, Finding("shift_invariance", "good", 3.0, message="f(x) vs f(x + 1)"))
    t.observe(c, Finding("shift_invariance", "unsupported", message="no exact shift exists for these logits"))
    t.observe(c, Finding("shift_invariance", "exact", 0.0))
    assert t.worst.verdict == "good"  # not "unsupported", which ranks above the passing grades
    t.observe(c, Finding("shift_invariance", "out-of-bound", 90.0))
    assert t.worst.verdict == "out-of-bound"
    only = Tracker()
    only.observe(c, Finding("shift_invariance", "unsupported", message="no exact shift"))
    assert only.worst.verdict == "unsupported"


def test_wrong_finite_values_beside_a_special_row_are_out_of_bound_not_a_convention():
    def off_on_finite_rows(x, a):  # specials as ieee says; every all-finite row 1% off
        s = _stable(x, a)
        finite = np.isfinite(x.astype(np.float64)).all(axis=a, keepdims=True)
        return np.where(finite, s.astype(np.float64) * 1.01, s).astype(x.dtype)

    f = _classes(off_on_finite_rows)["+inf"]  # as one row: NaN, right; in a batch: the other row is off
    assert f.verdict == "out-of-bound" and "finite values are wrong" in f.message, f.message
    assert _classes(_stable)["+inf"].verdict == "exact"
