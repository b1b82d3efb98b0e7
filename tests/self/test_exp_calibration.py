"""Calibrates the one assumption of the certified fast path (oracles/fast.py):
numpy's float64 ``np.exp``, as installed, is within C/2 ulp on every argument
the oracle feeds it, so its relative error is at most C u (u = 2**-53: an ulp
is at most 2u of the value) and the fast path's bound holds.

The arguments are d = fl(x - max) <= 0 down to past exp's underflow, and the
sigmoid's -|x| (N = 2**20, fixed seed): uniform over [-746, 0]; dense near 0;
log-uniform across every binade of |d| from 2**-1074 to 2**9.5; the subnormal
outputs [-746, -700]; d near multiples of ln2/128 (argument reduction edges);
-|x| for every finite float16 and for random float32 bit patterns.

The reference is python-flint's ``arb`` (rigorous balls at 96 bits: an
enclosure of the error in ulps, whose upper end is taken) at about 1.5 us an
element, so 2**20 arguments take about 2 s; without python-flint, mpmath at
96 bits (about 7 us an element, radius not tracked but below 1e-12 ulp).  A
double-double exp in numpy would be faster still, but would itself need a
proof; the ball reference needs none.

The ulp of a value b is that of the binade just below b (the smaller one at a
power of two), with 2**-1074 in the subnormal range and at 0.
"""

from __future__ import annotations

import numpy as np

from oracles import fast

N = 2**20


def arguments(n: int = N, seed: int = 20261203) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = n // 8
    ln2 = np.log(2.0)
    with np.errstate(invalid="ignore"):  # NaN bit patterns, dropped below
        f32 = rng.integers(0, 2**31, k, dtype=np.uint32).view(np.float32).astype(np.float64)
    f32 = f32[np.isfinite(f32)]
    f16 = np.arange(2**15, dtype=np.uint16).view(np.float16).astype(np.float64)
    f16 = f16[np.isfinite(f16)]
    parts = [
        np.array([0.0, -0.0, -5e-324, -2.0**-53, -2.0**-54, -708.39641853226408, -745.13321910194110,
                  -745.1332191019412, -746.0, -np.finfo(np.float64).max]),
        -rng.uniform(0, 746, 2 * k),                                          # the whole range
        -rng.uniform(0, 1, k // 2), -rng.uniform(0, 2.0**-20, k // 4),        # dense near 0
        -np.ldexp(1 + rng.random(2 * k), rng.integers(-1074, 9, 2 * k)),      # every binade of |d|
        -rng.uniform(700, 746, k),                                            # subnormal outputs
        # near the reduction edges j ln2/128, a few hundred ulps either side
        -(rng.integers(0, 138000, k) * (ln2 / 128)) * (1 + rng.integers(-300, 300, k) * 2.0**-53),
        -np.abs(f32), -np.abs(f16),                                           # the sigmoid's -|x|
    ]
    d = np.concatenate(parts)[:n]
    return np.concatenate([d, -rng.uniform(0, 746, n - d.size)])


def ulp_errors(d: np.ndarray, e: np.ndarray | None = None) -> np.ndarray:
    """|e - exp(d)| in ulps of e (default e = np.exp(d)), an upper bound per element."""
    if e is None:
        with np.errstate(all="ignore"):
            e = np.exp(d)
    ulp = np.spacing(np.nextafter(e, 0.0))
    ulp = np.where(e == 0, 2.0**-1074, ulp)
    triples = zip(d.tolist(), e.tolist(), ulp.tolist())
    try:
        from flint import arb, ctx
    except ImportError:  # pragma: no cover - python-flint is the 'fast' extra
        import mpmath

        with mpmath.workprec(96):
            return np.array([abs(float((mpmath.exp(a) - b) / q)) for a, b, q in triples])
    old = ctx.prec
    ctx.prec = 96
    try:
        return np.array([float(((arb(a).exp() - b) / q).abs_upper()) for a, b, q in triples])
    finally:
        ctx.prec = old


def test_numpy_exp_within_half_of_assumed_C():
    d = arguments()
    assert d.size >= 10**6 and np.all(d <= 0)
    err = ulp_errors(d)
    worst = int(np.argmax(err))
    print(f"numpy {np.__version__} float64 exp: max {err[worst]:.4f} ulp at d = {d[worst]!r} "
          f"over {d.size} arguments (limit C/2 = {fast.C / 2} ulp)")
    assert err[worst] <= fast.C / 2, (d[worst], err[worst])


def test_reference_sees_a_wrong_exp():
    """The check is not vacuous: an exp 3 ulps off on one argument is caught."""
    d = np.array([-1.0, -300.0, -0.25, -745.0])
    e = np.exp(d)
    assert ulp_errors(d, e).max() < 1
    e[1] = np.nextafter(np.nextafter(np.nextafter(e[1], 1), 1), 1)
    assert ulp_errors(d, e)[1] > 2.4
