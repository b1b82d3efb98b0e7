"""The certified float64-target softmax (oracles/f64.py, not yet wired into the
harness) against the references, bit for bit on the rounded values, across
every regime of test_fast_oracle.regimes (ordinary, ties, huge spreads with
x - max overflowing, near overflow, subnormal outputs, subnormal logits, all
equal, heterogeneous rows, one long row):

- mpmath (``oracles.api.evaluate``, the definition of truth) on
  SOFTMAX_HARNESS_F64_SAMPLES elements (default 10**6: about 24 s on 2
  shared cores, mpmath runs at about 40k float64 elements/s here; lower it
  for a quick run);
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


def test_f64_softmax_equals_mpmath():
    rng = np.random.default_rng(64)
    checked = decided = 0
    for x in regimes("float64", rng, MP_SAMPLES):
        got = f64.evaluate("softmax", x, -1)
        want = api.evaluate("softmax", x, -1)
        assert got.rounded.dtype == np.float64
        assert _bits_equal(got.rounded, want.rounded), x[:1, :4]
        tol = np.maximum(1e-6 * np.spacing(np.abs(want.hi)), 2.0**-1074)
        assert np.all(np.abs(got.lo - want.lo) <= tol)
        decided += int(f64.softmax_rows(x.astype(np.float64))[2].sum()) * x.shape[1]
        checked += x.size
    assert checked >= MP_SAMPLES
    assert decided >= 0.9 * checked  # the dd path does the bulk; ties go to mpmath


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
