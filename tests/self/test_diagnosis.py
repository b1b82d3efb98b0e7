"""The likely cause under a verdict: real results from real broken kernels
(fixtures/diagnosis_kernels.py) name their defect; correct kernels and
unrelated failures get no diagnosis; malformed results never raise.

Most results come from the properties on fixed cases (what a search stores
when it fails), so they do not move with the generators; one test runs the
search itself."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fixtures import diagnosis_kernels as K  # tests/self is on sys.path (conftest); fixtures: a namespace package

from harness import verdicts
from harness.arrays import encode_array
from harness.conformance import explore, special_values
from harness.diagnosis import diagnose, diagnose_one
from harness.evaluate import expected, invoke
from harness.properties import PROPERTIES
from harness.records import Case, Impl, Result

RNG = np.random.default_rng(0)
ROWS = RNG.normal(0.0, 2.0, (2, 300))  # long enough that a dropped partial block of 256 shows


def _impl(fn) -> Impl:  # as `check` builds a user's target
    return Impl(f"check:diag:{fn.__name__}", "user", "softmax", lambda c: fn(c.logits, c.axis), risky=True)


def on_case(fn, case: Case, prop: str = "accuracy") -> Result:
    """The Result a failing search stores for ``case`` (as conformance._result builds it)."""
    impl = _impl(fn)
    f = PROPERTIES[prop].fn(impl, case)
    oc = invoke(impl, case)
    ex = expected(case, impl.function, impl.judge_dtype(case), impl.profile)
    return Result(impl.id, impl.family, impl.function, prop, case.dtype, case.regime, f.verdict, f.max_ulp,
                  f.budget_ulp, f.message, f.worst_index, case_id=case.id, case=case.to_json(),
                  output=None if oc.output is None else encode_array(oc.output), expected=encode_array(ex.rounded),
                  stats=f.stats)


def case(x, dtype, axis=-1, regime="ordinary") -> Case:
    return Case(np.asarray(x, dtype=np.float64).astype(dtype), axis, regime)


def cause(fn, c: Case, prop: str = "accuracy") -> str | None:
    r = on_case(fn, c, prop)
    assert not verdicts.passes(r.verdict), (r.verdict, r.message)
    return diagnose_one(r)


def test_textbook_softmax_on_bfloat16_sums_in_bfloat16():
    # ml_dtypes sums bfloat16 sequentially in bfloat16: 1023 equal logits sum to 256.
    r = on_case(K.textbook_softmax, case(np.zeros(1023), K.BF16, regime="uniform"))
    assert diagnose([r]) == [diagnose_one(r)] == ["the sum is accumulated in bfloat16: a row of 1023 equal logits "
                                                  "sums to 256, not 1023 (a running bfloat16 sum of 1s stalls at 256)"]
    # A long case keeps no output; the message's worst value is enough for a row of equal logits.
    r = on_case(K.textbook_softmax, case(np.zeros((3, 4097)), K.BF16, regime="uniform"))
    assert "4097 equal logits sums to 256" in diagnose_one(replace(r, output=None, expected=None))


def _float16_running_sum(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    s = np.add.accumulate(e.astype(np.float16), axis=axis, dtype=np.float16)
    return e / np.take(s, [-1], axis=axis).astype(x.dtype)


def test_a_narrow_running_sum_is_named_with_its_precision():
    assert cause(_float16_running_sum, case(np.zeros((2, 4097)), np.float32)) == (
        "the sum is accumulated in float16: a row of 4097 equal logits sums to 2048, not 4097 "
        "(a running float16 sum of 1s stalls at 2048)")
    assert "1025 equal logits sums to 256" in cause(K.bf16_accumulating_softmax, case(np.full((1025, 3), 3.0),
                                                                                         np.float64, axis=0))
    line = cause(K.bf16_accumulating_softmax, case(ROWS, np.float32))  # ordinary rows: the model, not a stall
    assert line.startswith("the sum is accumulated in bfloat16: a row of 300 sums to"), line


def test_no_max_shift_names_the_overflow_threshold():
    assert cause(K.unshifted_softmax, case(np.linspace(80, 95, 64), np.float32)) == \
        "no max shift: exp(x) overflows above x ≈ 88.72 in float32"
    assert "above x ≈ 709.8 in float64" in cause(K.unshifted_softmax, case([710.0, 1.0, 0.0], np.float64))
    assert "above x ≈ 11.09 in float16" in cause(K.unshifted_softmax, case(np.linspace(0, 12, 16), np.float16))


def test_float64_computed_in_float32():
    r = on_case(K.float32_inside_softmax, case(ROWS, np.float64))
    assert diagnose_one(r) == "float64 computed in float32: every output is a float32 value (relative error ~2**-24)"
    # A long case keeps no output: errors of about float32's u while float32 itself passes say less, but enough.
    passing = on_case(K.float32_inside_softmax, case(ROWS, np.float32))
    assert verdicts.passes(passing.verdict)
    blind = replace(r, output=None, expected=None)
    [line] = diagnose([blind, passing])
    assert line.startswith("float64 results only float32-accurate: relative errors ~2**-2"), line
    assert line.endswith("while float32 passes (computed or summed in float32?)")
    assert diagnose([blind]) == []  # without the passing float32 result it could be anything


def test_contract_verdicts():
    assert cause(K.in_place_softmax, case(ROWS, np.float32), "contract").startswith("the input is modified in place")
    assert cause(K.float64_returning_softmax, case(ROWS, np.float32), "contract") == \
        "returns float64, not the input dtype: float64 for float32 input: not cast back"


def test_flush_to_zero_in_float16():
    line = cause(K.flushing_softmax, case([0.0, -11.0, -12.0, -13.0, 1.0, 2.0], np.float16))
    assert line == "subnormal results flushed to zero: 0 where the exact result is below 6.1e-05"


def test_a_dropped_tail():
    assert cause(K.short_sum_softmax, case(ROWS, np.float32), "sum_to_one").startswith(
        "the tail of the row is dropped: the sum covers the first 256 of 300 elements")
    assert cause(K.unwritten_tail_softmax, case(ROWS, np.float64)).startswith(
        "the tail of the row is dropped: the last 44 of 300 outputs are 0")


def test_rows_that_interact():
    assert cause(K.global_softmax, case(RNG.normal(0, 3, (4, 8)), np.float32)) == (
        "slices interact: the output is one softmax over the whole array (a max and sum not per row)")


def test_nan_swallowed_from_outputs_and_from_special_values():
    line = cause(K.nan_swallowing_softmax, case([[np.nan, 0, 1, 2], [0, 1, 2, 3]], np.float32))
    assert line.startswith("NaN swallowed")
    sv = special_values(_impl(K.nan_swallowing_softmax), "float32")
    assert diagnose(sv) == [line]


def test_one_line_per_cause_most_supported_first():
    rs = [on_case(K.in_place_softmax, case(ROWS, d), "contract") for d in (np.float32, np.float64)]
    rs.append(on_case(K.in_place_softmax, case(np.zeros(1023), K.BF16, regime="uniform")))
    rs.append(Result.loads(rs[0].dumps()))  # as written by `check --json` and read back
    lines = diagnose(rs)
    assert len(lines) == 2 and lines[0].startswith("the input is modified in place"), lines
    assert lines[1].startswith("the sum is accumulated in bfloat16")


def test_a_result_two_causes_fit_goes_to_the_one_the_others_show():
    # 342 near-equal logits: a bfloat16 stall at 256 and a sum stopped after 256 give the same row sum.
    near = case(8 + RNG.integers(-3, 4, 342) * 2.0**-7, np.float16, regime="tiny-spread")
    ambiguous = on_case(K.short_sum_softmax, near)
    clear = [on_case(K.short_sum_softmax, case(ROWS, d)) for d in (np.float32, np.float64)]
    assert len(diagnose([ambiguous] + clear)) == 1
    assert diagnose([ambiguous] + clear)[0].startswith("the tail of the row is dropped")


def _biased(x, axis=-1):  # wrong by a constant factor: no defect the diagnosis knows
    return (K.upcast_softmax(x.astype(np.float64), axis) * (1 + 2.0**-10)).astype(x.dtype)


def _reversed(x, axis=-1):
    return np.flip(K.upcast_softmax(x, axis), axis)


def _noisy(x, axis=-1):
    s = K.upcast_softmax(x.astype(np.float64), axis)
    return (s * (1 + 1e-3 * np.cos(np.arange(s.size)).reshape(s.shape))).astype(x.dtype)


def _raises_on_long_rows(x, axis=-1):
    if x.shape[axis] > 64:
        raise RuntimeError("too long")
    return K.upcast_softmax(x, axis)


CASES = [case(ROWS, np.float32), case(ROWS, np.float64), case(ROWS, K.BF16), case(ROWS.T, np.float16, axis=0),
         case(np.zeros(1023), K.BF16, regime="uniform"), case(np.linspace(80, 95, 64), np.float32)]


def test_correct_kernels_and_unrelated_failures_get_no_diagnosis():
    ok = [on_case(K.upcast_softmax, c, p) for c in CASES for p in ("accuracy", "sum_to_one", "stability")]
    assert all(verdicts.passes(r.verdict) for r in ok) and diagnose(ok) == []
    bad = [on_case(fn, c) for fn in (_biased, _reversed, _noisy, _raises_on_long_rows) for c in CASES[:4]]
    bad = [r for r in bad if not verdicts.passes(r.verdict)]  # half precision hides a small bias
    assert len(bad) >= 12 and diagnose(bad) == [], diagnose(bad)


@pytest.mark.parametrize("fn, runs, line", [
    (K.unshifted_softmax, [("float16", "accuracy"), ("float32", "accuracy")], "no max shift: exp(x) overflows"),
    (K.float32_inside_softmax, [("float64", "accuracy")], "float64 computed in float32"),
    (K.in_place_softmax, [("float32", "contract")], "the input is modified in place"),
])
def test_on_a_real_search(fn, runs, line):
    results = [explore(_impl(fn), d, p, budget="dev", seed=0) for d, p in runs]
    assert any(ln.startswith(line) for ln in diagnose(results)), [(r.regime, r.message) for r in results]


def test_missing_or_malformed_fields_give_no_diagnosis():
    r = on_case(K.unshifted_softmax, case(np.linspace(80, 95, 64), np.float32))
    # Result.from_json has checked each field's type; the arrays inside may still be unusable.
    assert r.output is not None and r.case is not None
    bare = Result(r.impl, r.family, r.function, r.property, r.dtype, r.regime, "out-of-bound")
    broken = [
        bare, replace(r, case=None), replace(r, output=None), replace(r, expected={"dtype": "float32"}),
        replace(r, output=dict(r.output, b64="@@@")), replace(r, output=dict(r.output, shape=[2, 3])),
        replace(r, case=dict(r.case, axis=5)), replace(r, output=dict(r.output, dtype=["float32"])),
        replace(r, stats={}, verdict="wrong-dtype", output=None),
        replace(bare, verdict="wrong-special", stats={"input_class": "nan"}),
        replace(r, output=None, worst_index=[99]), replace(r, output=None, message="got x, correctly rounded y"),
        replace(r, function="no_such_function"),
    ]
    for b in broken:
        assert diagnose_one(b) is None, b
    assert diagnose(broken) == []
    odd = replace(r, output=None, dtype="x", impl="y")  # the case alone says nothing
    assert diagnose([odd, replace(odd, verdict="good", dtype="float32")]) == []


def _log_cause(fn, function: str, c: Case) -> str | None:
    """diagnose_one on the accuracy Result of ``fn`` as a log_softmax or logsumexp."""
    impl = Impl(f"check:diag:{fn.__name__}:{function}", "user", function, lambda cc: fn(cc.logits, cc.axis),
                risky=True)
    f = PROPERTIES["accuracy"].fn(impl, c)
    assert not verdicts.passes(f.verdict), (f.verdict, f.message)
    oc, ex = invoke(impl, c), expected(c, function, impl.judge_dtype(c), impl.profile)
    return diagnose_one(Result(impl.id, impl.family, function, "accuracy", c.dtype, c.regime, f.verdict, f.max_ulp,
                               f.budget_ulp, f.message, f.worst_index, case_id=c.id, case=c.to_json(),
                               output=encode_array(oc.output), expected=encode_array(ex.rounded)))


def test_the_log_family_summing_in_a_narrow_format_is_named():
    from fixtures import verdict_kernels as V

    assert _log_cause(V.textbook_log_softmax, "log_softmax", case(np.zeros(1023), K.BF16, regime="uniform")) == (
        "the sum is accumulated in bfloat16: a row of 1023 has logsumexp 5.53125, not 6.9375: max + log of a "
        "running bfloat16 sum (256, exactly 1023)")
    assert _log_cause(V.scipy_like_logsumexp, "logsumexp", case(np.zeros((2, 1023)), K.BF16)).startswith(
        "the sum is accumulated in bfloat16: a row of 1023 has logsumexp 5.53125")

    def off_by_a_constant(x, axis=-1):  # wrong, but not by a narrow sum: no such claim
        return (V.textbook_log_softmax(x.astype(np.float64), axis) + 0.5).astype(x.dtype)

    assert _log_cause(off_by_a_constant, "log_softmax", case(np.zeros(1023), K.BF16, regime="uniform")) is None
