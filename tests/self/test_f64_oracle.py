"""The certified float64-target path (oracles/f64.py: softmax, log_softmax,
logsumexp, sigmoid; oracles.fast.evaluate sends every float64 target there)
against the references, bit for bit on the rounded values, across
every regime of test_fast_oracle.regimes (ordinary, ties, huge spreads with
x - max overflowing, near overflow, subnormal outputs, subnormal logits, all
equal, heterogeneous rows, rows with -inf entries, long rows):

- mpmath (``oracles.api.evaluate``, the definition of truth) on
  SOFTMAX_HARNESS_F64_SAMPLES elements of softmax (default 10**6: about 24 s
  on 2 shared cores, mpmath runs at about 40k float64 elements/s here; lower
  it for a quick run) and a quarter of that for each other function;
- python-flint arb balls, an independent rigorous reference, on
  SOFTMAX_HARNESS_F64_BALL_SAMPLES elements (default 2**20, about 3 s): the
  exact value s is proven to lie within half an ulp of the returned float64
  (ties and unproven elements are left to the mpmath comparison).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from test_fast_oracle import _bits_equal, regimes

from oracles import api, f64

MP_SAMPLES = int(os.environ.get("SOFTMAX_HARNESS_F64_SAMPLES", str(10**6)))
BALL_SAMPLES = int(os.environ.get("SOFTMAX_HARNESS_F64_BALL_SAMPLES", str(2**20)))


@pytest.mark.parametrize("function", f64.F64_FUNCTIONS)
def test_f64_path_equals_mpmath(function):
    rng = np.random.default_rng(sum(map(ord, function)))
    samples = MP_SAMPLES if function == "softmax" else MP_SAMPLES // 4
    checked = decided = 0
    for x in regimes("float64", rng, samples):
        got = f64.evaluate(function, x, -1)
        want = api.evaluate(function, x, -1)
        assert got.rounded.dtype == np.float64 and got.rounded.shape == want.rounded.shape
        assert _bits_equal(got.rounded, want.rounded), (function, x[:1, :4])
        fin = np.isfinite(want.hi)
        # lo within the dd path's proven bound of mpmath's (logs: absolute ~2**-94)
        absolute = 2.0**-92 * (1 + np.abs(want.hi[fin])) if function in ("log_softmax", "logsumexp") else 2.0**-1074
        tol = np.maximum(1e-6 * np.spacing(np.abs(want.hi[fin])), absolute)
        assert np.all(np.abs(got.lo[fin] - want.lo[fin]) <= tol), function
        decided += _decided(function, x.astype(np.float64))
        checked += x.size
    assert checked >= samples
    # The dd path does the bulk; ties, overflowing x - max and log S within 2**-90 of 0 go to mpmath.
    assert decided >= 0.8 * checked, (decided, checked)


def _decided(function: str, x: np.ndarray) -> int:
    """Elements the dd path decided itself (sigmoid per element, the rest per row)."""
    with np.errstate(all="ignore"):
        if function == "sigmoid":
            fl = x.reshape(-1)
            fin = np.isfinite(fl)
            return int((f64.sigmoid_flat(np.where(fin, fl, 0.0))[2] & fin).sum())
        rows = f64.softmax_rows(x) if function == "softmax" else f64.log_rows(function, x)
    return int(rows[2].sum()) * x.shape[1]


def _gaps(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gaps from r >= 0 to its float64 neighbours below (0 at r = 0) and above."""
    return np.where(r > 0, r - np.nextafter(r, 0.0), 0.0), np.nextafter(r, np.inf) - r


def test_f64_softmax_within_half_ulp_of_arb():
    flint = pytest.importorskip("flint")
    arb = flint.arb
    rng = np.random.default_rng(6464)
    old = flint.ctx.prec
    flint.ctx.prec = 160
    checked = proven = 0
    try:
        for x in regimes("float64", rng, BALL_SAMPLES):
            x = x.astype(np.float64)
            r, _, ok = f64.softmax_rows(x)
            below, above = _gaps(r)
            for i in np.flatnonzero(ok):
                row = x[i].tolist()
                m = max(row)
                e = [(arb(v) - m).exp() for v in row]
                S = sum(e, arb(0))
                for t, ri, lo, hi in zip(e, r[i].tolist(), below[i].tolist(), above[i].tolist()):
                    d2 = 2 * (t / S - ri)  # s - r within half a gap either side (s >= 0 when r = 0)
                    assert not (d2 > hi or d2 < -(lo or hi)), (row[:4], ri)
                    proven += bool(d2 < hi and d2 > -(lo or hi))
            checked += x.size
    finally:
        flint.ctx.prec = old
    assert checked >= BALL_SAMPLES
    assert proven >= 0.9 * checked


def test_f64_falls_back_where_it_does_not_apply():
    x = np.array([[1.0, np.inf, 0.0], [1.0, 2.0, 3.0], [np.nan, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]])
    for function, arr, kw in [("softmax", x, {}), ("softmax", x.T, {}), ("log_softmax", x[1:2], {}),
                              ("softmax", x[1:2].astype(np.float32), {}),
                              ("softmax", x[1:2].astype(np.float32), {"out_dtype": np.float64}),
                              ("softmax", np.array(0.5), {})]:
        got, want = f64.evaluate(function, arr, 0 if arr is x.T else -1, **kw), api.evaluate(
            function, arr, 0 if arr is x.T else -1, **kw)
        assert got.rounded.dtype == want.rounded.dtype and _bits_equal(got.rounded, want.rounded), function


@pytest.mark.parametrize("function", f64.F64_FUNCTIONS)
def test_the_harness_oracle_takes_the_dd_path_for_float64(function, monkeypatch):
    """oracles.fast.evaluate (what harness.evaluate.expected calls) sends an
    ordinary float64 case through the dd path, with no mpmath call at all."""
    from oracles import fast

    x = np.random.default_rng(3).uniform(-30, 30, (16, 40))
    want = api.evaluate(function, x, 0)

    def no_mpmath(*a, **k):
        raise AssertionError("mpmath called for an ordinary float64 case")

    monkeypatch.setattr(api, "evaluate", no_mpmath)
    got = fast.evaluate(function, x, 0)
    assert _bits_equal(got.rounded, want.rounded) and got.rounded.shape == want.rounded.shape
