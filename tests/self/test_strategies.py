"""Generator guarantees the search budget relies on: rows of every length,
bounded shapes, memory layouts that survive the private copy, NaN at every
position, uniform rows."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hseed
from hypothesis.internal.conjecture.data import ConjectureData

from harness.arrays import apply_layout, layout_name
from harness.evaluate import invoke
from harness.records import Case, Impl
from harness.strategies import cases, regimes_for
from harness.strategies.constant_pool import fixed_constant_pool
from harness.strategies.dtype_helpers import DTYPES, cast
from harness.strategies.hypothesis_helpers import HALF_SUM_OVERFLOW, REGIMES, SHORT_LONG_MAX, stream
from harness.strategies.shape_helpers import KINDS, SHORT_MAX, row_lengths
from harness.strategies.shape_helpers import moved as _moved

ROWS = [r for r in REGIMES if r != "long-row"]
PROBES = [*range(1, 70), *range(250, 262), *range(1020, 1030), *range(2044, 2052), *range(4030, SHORT_MAX + 1)]


def _drive(strategy, choices):
    """What ``strategy`` draws from this exact sequence of choices."""
    return ConjectureData.for_choices(choices).draw(strategy)


def _draws(function, dtype, n, seed=0, **kw) -> list:
    fixed_constant_pool()  # as explore does: the draws depend on the seed only, not on what is imported
    out = []

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(case=cases(function, dtype, **kw))
    def collect(case):
        out.append(case)

    collect()
    return out


def _check_draws(function, regimes=None, seeds=range(4)) -> list:
    """The cases `check` draws with each seed: 3 per (regime, dtype) run."""
    return [case for seed in seeds for dtype in DTYPES for regime in regimes or regimes_for(function)
            for case in _draws(function, dtype, 3, seed, regimes=(regime,))]


def test_long_row_is_the_last_regime_of_row_functions():
    # Last, so that it adds cases without moving the other regimes' derandomized draws.
    for fn in ("softmax", "log_softmax", "logsumexp", "masked_softmax", "softmax_vjp"):
        assert regimes_for(fn)[-1] == "long-row"
        assert "long-row" not in regimes_for(fn, long_row=False)
        assert "uniform" in regimes_for(fn)
    assert "long-row" not in regimes_for("softmax_jacobian")  # k x k outputs stay small


@settings(max_examples=15, deadline=None, database=None)
@given(case=cases("softmax", "float32", regimes=("long-row",)))
def test_default_long_rows_pass_1024_and_stay_bounded(case):
    assert 1023 <= case.row_length <= SHORT_LONG_MAX
    assert case.logits.size <= 2 * SHORT_LONG_MAX


# --------------------------------------------------------------------------
# Row lengths
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("function", "top"), [("softmax", SHORT_MAX), ("logsumexp", SHORT_MAX),
                                               ("masked_softmax", 257), ("log_softmax", 257)])
def test_the_runs_strata_partition_the_row_lengths(function, top):
    runs = REGIMES if top == SHORT_MAX else ROWS  # mpmath-judged functions: long-row apart, past 1023
    spans = sorted(stream(function, r, d, SHORT_MAX)[0] for r in runs for d in DTYPES)
    assert spans[0][0] == 1 and spans[-1][1] == top
    assert all(a[1] + 1 == b[0] for a, b in zip(spans, spans[1:])), spans
    assert max(b - a + 1 for a, b in spans) <= -(-top // len(spans))
    assert min(stream(function, "long-row", d, SHORT_MAX)[0][0] for d in DTYPES) >= 1023
    if function == "softmax":  # float64 and NaN/inf slices (mpmath-judged) take the shortest rows
        assert max(stream(function, r, "float64", SHORT_MAX)[0][1] for r in ROWS) < 1600
        for d in DTYPES[:3]:  # each cheap dtype's strata spread over the long rows
            starts = sorted(stream(function, r, d, SHORT_MAX)[0][0] for r in ROWS if r not in ("neg-inf", "nan-inf"))
            assert max(b - a for a, b in zip(starts, starts[1:])) < 600, (d, starts)


def test_every_probe_length_is_reachable_in_every_run():
    # From the stratum of the run that owns it, and from the uniform draw of every run.
    salts = {stream("softmax", r, d, SHORT_MAX)[1] for r in REGIMES for d in DTYPES}
    for length in PROBES:
        owner = [(r, d) for r in REGIMES for d in DTYPES
                 if stream("softmax", r, d, SHORT_MAX)[0][0] <= length <= stream("softmax", r, d, SHORT_MAX)[0][1]]
        assert len(owner) == 1, (length, owner)
        (lo, hi), salt = stream("softmax", *owner[0], SHORT_MAX)
        assert hi - lo < 256 and _drive(row_lengths(SHORT_MAX, stratum=(lo, hi), salt=salt), [0, length]) == length
        digits = [(length - 1) // 256, (length - 1) % 256]
        for salt in salts if length % 7 == 0 else ():  # (a sample: every run's uniform draw is the same code)
            got = {_drive(row_lengths(SHORT_MAX, stratum=(lo, hi), salt=salt), [raw, *digits, 0, 0])
                   for raw in range(len(KINDS))}
            assert length in got, (length, salt, sorted(got))


def test_first_examples_start_their_strata_and_cover_ranks_and_layouts():
    # explore's first example of every run is Hypothesis's all-simplest draw: a fixed design point.
    first = {(r, d): _draws("softmax", d, 1, regimes=(r,))[0] for r in REGIMES for d in DTYPES}
    for (r, d), case in first.items():
        assert case.row_length == stream("softmax", r, d, SHORT_MAX)[0][0], (r, d, case.logits.shape)
    assert {c.logits.ndim for c in first.values()} == {1, 2, 3, 4}
    assert any(c.row_length == 1 and c.logits.ndim >= 2 for c in first.values())
    assert {layout_name(c.layout) for c in first.values()} >= {"contiguous", "transposed", "strided", "reversed"}


# --------------------------------------------------------------------------
# Shapes, axes and layouts
# --------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["softmax", "log_softmax", "masked_softmax", "cross_entropy", "softmax_vjp",
                                      "sparse_softmax", "softmax_jacobian", "sigmoid"])
def test_shapes_stay_within_their_budget(function):
    for max_elements in (64, 2048):
        for case in _draws(function, "float32", 40, seed=3, max_elements=max_elements):
            n = case.row_length
            assert 1 <= n <= SHORT_MAX and case.logits.ndim <= 4
            # A row longer than the batch budget comes alone, or as 2 (4 with hetero rows off the last axis).
            assert case.logits.size <= max(max_elements, 4 * n), (case.regime, case.logits.shape)
            assert case.logits.size <= 4 * SHORT_MAX


def test_layouts_axes_and_lengths_of_one_appear():
    seen = _check_draws("softmax")
    names = {layout_name(c.layout) for c in seen}
    assert {"transposed", "strided", "reversed"} <= {part for name in names for part in name.split("-")}, names
    assert all(c.regime.endswith(f"+layout-{layout_name(c.layout)}") == (c.layout is not None) for c in seen)
    for nd in (3, 4):  # reduced axis not the last
        assert any(c.logits.ndim == nd and c.norm_axis < nd - 1 for c in seen), nd
    for nd in (2, 3, 4):
        assert any(c.logits.ndim == nd and c.row_length == 1 for c in seen), nd
    assert any(c.norm_axis < c.logits.ndim - 1 and c.row_length > 1024 and c.logits.size >= 2 * c.row_length
               for c in seen)  # a long non-last axis, really strided
    assert not all(c.logits.flags.c_contiguous for c in seen)


@pytest.mark.parametrize("layout", [((1, 0), (1, 1)), ((0, 1), (1, -1)), ((2, 0, 1), (2, 1, -1)),
                                    ((3, 1, 0, 2), (1, -2, 1, 3))], ids=str)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_the_private_copy_and_json_keep_the_layout(layout, dtype):
    rng = np.random.default_rng(1)
    shape = (3, 5, 2, 4)[:len(layout[0])]
    x = cast(rng.uniform(-4, 4, shape), dtype)
    case = Case(apply_layout(x, layout), 1, "ordinary", layout=layout)
    assert np.array_equal(case.logits, x) and not case.logits.flags.c_contiguous
    assert layout_name(layout) != "contiguous"
    seen = []
    impl = Impl("t.strides", "test", "softmax", lambda c: seen.append((c.logits.strides, c.logits.copy())) or
                np.zeros(c.logits.shape, c.logits.dtype))
    invoke(impl, case)
    assert seen[0][0] == case.logits.strides and np.array_equal(seen[0][1], x)  # the implementation's copy
    mine = case.copy()
    assert not np.shares_memory(mine.logits, case.logits) and mine.layout == layout
    back = Case.from_json(json.loads(json.dumps(case.to_json())))
    assert back.layout == layout and back.logits.strides == case.logits.strides and back.id == case.id
    assert np.array_equal(back.logits, x)
    assert Case(x, 1, "ordinary").id != case.id  # another layout is another input
    base = case.logits.base
    while base.base is not None:
        base = base.base
    assert np.isnan(base.astype(np.float64)).sum() == base.size - x.size  # gaps hold NaN


def test_the_oracle_and_the_judging_do_not_depend_on_the_layout():
    from harness.evaluate import accuracy, expected

    x = cast(np.random.default_rng(2).uniform(-8, 8, (5, 300)), "float16")
    impl = Impl("t.f64", "test", "softmax", lambda c: _softmax64(c.logits, c.axis).astype(c.logits.dtype))
    for layout in [((1, 0), (1, 1)), ((0, 1), (-2, 1)), ((1, 0), (3, -1))]:
        for axis in (0, 1):
            laid, plain = Case(apply_layout(x, layout), axis, layout=layout), Case(x.copy(), axis)
            assert laid.id != plain.id  # judged afresh, not served from the oracle cache
            assert np.array_equal(expected(laid, "softmax").rounded, expected(plain, "softmax").rounded)
            a, b = accuracy(impl, laid, impl.call(laid)), accuracy(impl, plain, impl.call(plain))
            assert (a.verdict, a.max_ulp, a.worst_index) == (b.verdict, b.max_ulp, b.worst_index)


def _softmax64(x, axis):
    w = x.astype(np.float64)
    e = np.exp(w - w.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def test_a_contiguous_case_copies_as_before():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    case = Case(x, -1)
    assert case.copy().logits.flags.c_contiguous and "layout" not in case.to_json()
    with pytest.raises(ValueError):
        apply_layout(x, ((0,), (1,)))


# --------------------------------------------------------------------------
# Values: NaN positions, uniform rows, extras
# --------------------------------------------------------------------------


def test_nan_lands_first_last_inside_and_several_at_once():
    kinds = set()
    for case in _check_draws("softmax", ("nan-inf",), range(8)):
        rows = _moved(np.isnan(case.logits.astype(np.float64)), case.norm_axis).reshape(-1, case.row_length)
        for row in rows if case.row_length >= 3 else []:
            where = np.flatnonzero(row)
            if len(where) == 1:
                kinds.add({0: "first", case.row_length - 1: "last"}.get(int(where[0]), "inside"))
            elif len(where) > 1:
                kinds.add("several")
    assert kinds == {"first", "last", "inside", "several"}, kinds


def test_uniform_rows_are_equal_within_each_slice_at_every_length():
    seen = _draws("softmax", "float16", 80, seed=4, regimes=("uniform",))
    for case in seen:
        x = _moved(case.logits.astype(np.float64), case.norm_axis)
        assert (x == x[..., :1]).all()
    assert any(c.row_length > 2048 for c in seen) and any(c.row_length < 256 for c in seen)
    long = _draws("softmax", "float16", 30, seed=4, regimes=("uniform",), long_rows=True)
    assert any(c.row_length >= HALF_SUM_OVERFLOW for c in long)  # a float16 sum of its exponentials overflows


@pytest.mark.parametrize("function", ["masked_softmax", "cross_entropy", "softmax_vjp", "sparse_softmax"])
def test_extras_fit_the_new_shapes(function):
    for case in _draws(function, "float32", 40, seed=6):
        shape, ax = case.logits.shape, case.norm_axis
        if function == "masked_softmax":
            assert case.mask.shape == shape
        elif function == "cross_entropy":
            lead = shape[:ax] + shape[ax + 1:]
            assert case.labels.shape in (lead, shape)
            if case.labels.shape == lead:
                assert ((0 <= case.labels) & (case.labels < case.row_length)).all()
        elif function == "softmax_vjp":
            assert case.upstream.shape == shape
        else:
            assert case.indices.ndim == 2 and ((case.indices >= 0) & (case.indices < shape)).all()
        assert Case.from_json(json.loads(json.dumps(case.to_json()))).id == case.id


def test_reused_strategies_are_one_object_per_arguments_and_tell_bounds_apart():
    from harness.strategies import reuse

    assert reuse.integers(0, 3) is reuse.integers(0, 3)
    assert reuse.floats(-0.0, 1.0) is not reuse.floats(0.0, 1.0)  # equal floats, other bits: other bounds
    assert reuse.sampled_from([1, 2]) is not reuse.sampled_from([True, 2])
    assert row_lengths(64, stratum=(1, 8)) is row_lengths(64, stratum=(1, 8))
    # Reusing an object draws what a new one draws, choice for choice.
    fresh = row_lengths.__wrapped__(64, stratum=(1, 8))
    for choices in ([0, 3], [5, 1], [17, 3, 10]):
        assert _drive(row_lengths(64, stratum=(1, 8)), choices) == _drive(fresh, choices)
