"""The certified fast oracle (oracles/fast.py) against mpmath, the definition
of truth: identical correctly rounded values, bit for bit, and hi within the
claimed 0.01 ulp, on >= 1e5 elements per target dtype (4 functions x 25k by
default; SOFTMAX_HARNESS_FAST_SAMPLES scales it) across every regime."""

from __future__ import annotations

import os

import numpy as np
import pytest

from oracles import FORMATS, api, fast, summation
from oracles.formats import format_of

PER_FUNCTION = int(os.environ.get("SOFTMAX_HARNESS_FAST_SAMPLES", "25000"))


def regimes(dtype: str, rng: np.random.Generator, total: int) -> list[np.ndarray]:
    f = FORMATS[dtype]
    lm = np.log(f.max_finite)
    lsub = np.log(f.min_subnormal)
    out, size = [], 0
    makers = [
        lambda k: rng.uniform(-4, 4, (8, k)),                                   # ordinary
        lambda k: 100 + rng.integers(-3, 3, (8, k)) * 2.0 ** -(f.p - 7),        # tiny spread, ties
        lambda k: rng.uniform(-1, 1, (8, k)) * f.max_finite,                    # huge spread
        lambda k: lm + rng.uniform(-3, 0.5, (8, k)),                            # near overflow
        lambda k: np.concatenate([np.zeros((8, 1)), rng.uniform(lsub - 8, lsub + 12, (8, k - 1))], 1),  # underflow
        lambda k: rng.uniform(-1, 1, (8, k)) * f.min_normal,                    # subnormal logits
        lambda k: np.full((8, k), 3.0),                                         # all equal
        lambda k: rng.uniform(-5, 5, (8, k)) + rng.uniform(-3000, 3000, (8, 1)),  # hetero rows
    ]
    i = 0
    while size < total:
        k = int(rng.choice([3, 17, 64, 65, 257]))
        if i % (len(makers) + 1) == len(makers):  # -inf entries (not clipped), one finite per row at least
            v = rng.uniform(-20, 20, (8, k))
            x = np.where((rng.random((8, k)) < 0.4) & (np.arange(k) != k // 2), -np.inf, v).astype(f.dtype)
        else:
            x = np.clip(makers[i % (len(makers) + 1)](k), -f.max_finite, f.max_finite).astype(f.dtype)
        out.append(x)
        size += x.size
        i += 1
    out.append(rng.uniform(-30, 30, (1, 16385)).astype(f.dtype))  # one long row
    # Long rows past the summation tree's power-of-two edges, one with a huge spread.
    out.append(rng.uniform(-30, 30, (1, 65537)).astype(f.dtype))
    out.append(np.clip(rng.uniform(-1, 1, (2, 4097)) * f.max_finite, -f.max_finite, f.max_finite).astype(f.dtype))
    out.append((rng.uniform(-5, 5, (2, 4097)) + rng.uniform(-200, 200, (2, 1))).astype(f.dtype))
    return out


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("function", fast.FAST_FUNCTIONS)
def test_fast_path_equals_mpmath(function, dtype):
    rng = np.random.default_rng(hash((function, dtype)) % 2**32)
    fmt = format_of(dtype)
    checked = decided = outputs = 0
    for x in regimes(dtype, rng, PER_FUNCTION):
        got = fast.evaluate(function, x, -1)
        want = api.evaluate(function, x, -1)
        assert _bits_equal(got.rounded, want.rounded), (function, dtype, x[:1, :4])
        exact = want.hi + want.lo
        fin = np.isfinite(exact)
        ulp = fast._ulp(exact[fin], fmt)
        assert np.all(np.abs(got.hi[fin] - exact[fin]) <= fast.MAX_ULP_FRACTION * ulp + 2.0 ** -1000)
        v, b = (fast._sigmoid_fast(x.astype(np.float64).reshape(-1)) if function == "sigmoid"
                else fast._rows_fast(function, x.astype(np.float64), fmt))
        decided += int(fast._decide(v, b, fmt)[1].sum())
        checked += x.size
        outputs += want.rounded.size
    assert checked >= PER_FUNCTION
    assert decided >= 0.5 * outputs  # the fast path does the bulk of the work


@pytest.mark.parametrize("n", [1, 2, 3, 127, 128, 129, 4097, 65537])
def test_compensated_sum_within_its_bound(n):
    import math
    rng = np.random.default_rng(n)
    rows = [rng.random((4, n)), np.exp(rng.uniform(-745, 0, (4, n))), np.exp(-rng.exponential(20, (4, n)))]
    for e in rows:
        got, k = summation.compensated_sum(e)
        assert got.shape == (4, 1) and k == (n - 1).bit_length()
        for s, r in zip(got[:, 0], e.tolist()):
            exact = math.fsum(r)  # correctly rounded: within u/2 of the exact sum
            assert abs(s - exact) <= (fast.U64 + 3 * k * k * fast.U64**2) * exact * (1 + 2 * fast.U64)


def test_decide_is_rigorous_at_edges():
    # Whatever _decide accepts, both ends of the interval round to the value it returns:
    # ties, binade bottoms (1/64 and the like), subnormals, overflow.
    rng = np.random.default_rng(7)
    for name in ("float16", "bfloat16", "float32"):
        f = format_of(name)
        g = rng.integers(-2**f.p, 2**f.p, 200000) * 2.0 ** rng.integers(f.emin - f.p - 2, f.emax + 4, 200000)
        g = g + rng.uniform(-0.6, 0.6, g.size) * fast._ulp(g, f) * rng.choice([0, 1e-6, 1e-3, 0.5], g.size)
        g = np.concatenate([g, 2.0 ** np.arange(-160, 130), -(2.0 ** np.arange(-160, 130)), [0.0, -0.0]])
        for scale in (0.0, 1e-9, 1e-5, 1e-3, 0.0099):
            b = np.abs(g) * scale * rng.uniform(0, 1, g.size) + 2.0**-1070
            with np.errstate(all="ignore"):
                r, ok = fast._decide(g, b, f)
                assert _bits_equal(r, fast.round_to(g, f))
                for frac in (-1.0, 1.0):
                    assert _bits_equal(fast.round_to(g[ok] + frac * b[ok], f), r[ok])


def test_round_to_is_direct_rounding():
    # 1 + 2**-8 + 2**-30 rounds up in bfloat16 directly; via float32 it first
    # becomes the tie 1 + 2**-8, which rounds to even (down): double rounding.
    v = np.array([1 + 2.0**-8 + 2.0**-30])
    assert fast.round_to(v, FORMATS["bfloat16"])[0] == 1 + 2.0**-7
    for name in ("float16", "float32"):
        x = np.random.default_rng(0).standard_normal(10000) * 10.0 ** np.random.default_rng(1).integers(-8, 8, 10000)
        with np.errstate(over="ignore"):  # numpy's cast overflows to inf, as round_to must
            want = x.astype(name).astype(np.float64)
        assert _bits_equal(fast.round_to(x, FORMATS[name]), want)


def test_float64_and_extras_fall_back():
    x = np.array([[1.0, np.inf, 0.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    assert _bits_equal(fast.evaluate("softmax", x).rounded, api.evaluate("softmax", x).rounded)
    y = np.array([0.1, 0.2])
    assert _bits_equal(fast.evaluate("softmax", y).rounded, api.evaluate("softmax", y).rounded)


@pytest.mark.parametrize("function", ["softmax", "log_softmax", "logsumexp"])
def test_blocks_change_nothing(function, monkeypatch):
    # evaluate works in blocks of rows; tiny blocks give the same results as one block,
    # with undecided (mpmath) rows among them.
    rng = np.random.default_rng(3)
    f = format_of("float32")
    x = np.concatenate([rng.uniform(-20, 20, (40, 17)), rng.uniform(-1, 1, (5, 17)) * f.max_finite,
                        rng.uniform(-4, 4, (40, 17))]).astype(np.float32)
    rng.shuffle(x)
    whole = fast.evaluate(function, x, -1)
    monkeypatch.setattr(fast, "BLOCK", 40)
    blocked = fast.evaluate(function, x, -1)
    assert _bits_equal(whole.rounded, blocked.rounded)
    assert _bits_equal(whole.hi, blocked.hi) and _bits_equal(whole.lo, blocked.lo)
    assert _bits_equal(blocked.rounded, api.evaluate(function, x, -1).rounded)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("function", ["softmax", "log_softmax", "logsumexp"])
def test_undecided_rows_go_to_the_double_double_tier(function, dtype, monkeypatch):
    """Rows the float64 path leaves undecided (here: every row, its bounds
    inflated 2**20 times) are decided by the dd tier of oracles.f64, bit for bit
    as mpmath, and only rows that tier cannot decide reach mpmath."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-20, 20, (30, 33))
    x[::4, ::3] = -np.inf  # -inf entries take the dd tier too
    x = x.astype(FORMATS[dtype].dtype)
    want = api.evaluate(function, x, -1)
    rows_fast, calls = fast._rows_fast, []
    monkeypatch.setattr(fast, "_rows_fast", lambda *a: (lambda v, b: (v, b * 2.0**20 + 1e-3))(*rows_fast(*a)))
    evaluate = api.evaluate
    monkeypatch.setattr(api, "evaluate", lambda fn, arr, *a, **k: calls.append(len(arr)) or evaluate(fn, arr, *a, **k))
    got = fast.evaluate(function, x, -1)
    assert _bits_equal(got.rounded, want.rounded)
    assert sum(calls) <= 2, calls  # the dd tier decided (almost) every row
