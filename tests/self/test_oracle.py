"""The oracle against known values, exact identities, subnormals, direct
(not double) rounding, and an independent flint.arb cross-check."""

import math

import ml_dtypes
import numpy as np
import pytest
from mpmath import mp

import oracles
from oracles import FORMATS, round_mpf

DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


def test_seed_000_example_is_correctly_rounded_and_the_article_is_one_ulp_off():
    got = oracles.softmax(np.array([2.0, 1.0, 0.1]))
    assert got.tolist() == [0.6590011388859679, 0.24243297070471392, 0.09856589040931817]
    printed = np.array([0.6590011388859679, 0.2424329707047139, 0.09856589040931818])
    ulps = np.abs(printed - got) / np.spacing(got)
    assert ulps.tolist() == [0.0, 1.0, 1.0]


def test_seed_003_z_data():
    got = oracles.softmax(np.array([1.25, 2.44, 0.78, 0.12]))
    mp.prec = 300
    e = [mp.exp(mp.mpf(v)) for v in (1.25, 2.44, 0.78, 0.12)]
    want = [float(v / mp.fsum(e)) for v in e]  # 300 bits then one rounding
    assert got.tolist() == want
    assert got.tolist()[2] == 0.11938650086860876  # the article printed ...875


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("a", [0.0, -3.5, 7.0, 1e3, -60000.0])
def test_two_equal_logits_give_exact_halves(dt, a):
    x = np.array([a, a], dtype=np.float64).astype(dt)
    assert oracles.softmax(x).astype(np.float64).tolist() == [0.5, 0.5]


@pytest.mark.parametrize("dt", DTYPES)
def test_shift_invariance_of_exact_values(dt):
    x = np.array([1.0, 2.0, -3.0, 0.5], dtype=dt)
    shifted = (x.astype(np.float64) + 64.0).astype(dt)
    assert (shifted.astype(np.float64) - 64.0 == x.astype(np.float64)).all()
    a = oracles.evaluate("softmax", x)
    b = oracles.evaluate("softmax", shifted)
    assert a.rounded.tobytes() == b.rounded.tobytes()
    assert (a.hi == b.hi).all() and (a.lo == b.lo).all()


def test_subnormal_output_in_float32():
    got = oracles.softmax(np.array([0.0, -100.0], dtype=np.float32))
    assert got[0] == 1.0
    assert 0 < got[1] < np.finfo(np.float32).tiny  # subnormal
    mp.prec = 200
    want = mp.exp(-100) / (1 + mp.exp(-100))
    assert float(got[1]) == round_mpf(want, FORMATS["float32"])


def test_rounding_goes_direct_not_through_float64():
    # 1 + 2**-11 + 2**-60: via float64 it becomes 1 + 2**-11, a float16 tie
    # that rounds to even (1.0); directly it is above the tie -> 1 + 2**-10.
    mp.prec = 100
    v = mp.mpf(1) + mp.mpf(2) ** -11 + mp.mpf(2) ** -60
    assert round_mpf(v, FORMATS["float16"]) == 1 + 2**-10
    assert float(np.float16(float(v))) == 1.0


@pytest.mark.parametrize(("dt", "a", "b", "want"), [
    (np.float16, 1025.0, 0.5, -1025.0),  # exact value -1024.5 - tiny: double rounding gives -1024
    (ml_dtypes.bfloat16, 258.0, 1.0, -258.0),  # exact -257 - tiny: double rounding gives -256
])
def test_oracle_avoids_double_rounding_on_a_real_tie(dt, a, b, want):
    out = oracles.log_softmax(np.array([a, b], dtype=dt))
    assert float(out[1]) == want
    ce = oracles.cross_entropy(np.array([[a, b]], dtype=dt), np.array([1]))
    assert float(ce[0]) == -want


def test_special_values_ieee_profile():
    x = np.array([[1, np.nan, 0], [np.inf, 0, 1], [-np.inf] * 3, [-np.inf, 0, 0]])
    got = oracles.softmax(x)
    assert np.isnan(got[:3]).all()
    assert got[3].tolist() == [0.0, 0.5, 0.5]
    assert oracles.softmax(np.zeros((2, 0))).shape == (2, 0)
    assert oracles.logsumexp(np.array([[-np.inf, -np.inf], [np.inf, 0]])).tolist() == [-np.inf, np.inf]


def test_limit_and_masked_profiles():
    x = np.array([[np.inf, np.inf, 0.0], [-np.inf] * 3])
    assert oracles.softmax(x, profile="limit").tolist()[0] == [0.5, 0.5, 0.0]
    assert np.allclose(oracles.softmax(x, profile="limit")[1], 1 / 3)
    assert oracles.softmax(x[1:], profile="masked").tolist() == [[0.0, 0.0, 0.0]]
    keep = np.array([[True, False, True], [False, False, False]])
    out = oracles.masked_softmax(np.array([[0.0, 5.0, 0.0], [1.0, 2.0, 3.0]]), mask=keep, profile="masked")
    assert out.tolist() == [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]


def test_sigmoid_and_overflow_to_inf():
    assert oracles.sigmoid(np.array([0.0, np.inf, -np.inf])).tolist() == [0.5, 1.0, 0.0]
    # logsumexp of two float16 maxima overflows in float16 (65504 + log 2 -> 65520 boundary not reached)
    lse = oracles.logsumexp(np.array([65504.0, 65504.0], dtype=np.float16))
    assert float(lse) == 65504.0
    lse64 = oracles.logsumexp(np.array([1.7976931348623157e308, 1.7976931348623157e308]))
    assert lse64 == 1.7976931348623157e308


def test_jacobian_vjp_identities():
    J = oracles.softmax_jacobian(np.array([[0.0, 0.0]]))
    assert J.tolist() == [[[0.25, -0.25], [-0.25, 0.25]]]
    v = oracles.softmax_vjp(np.array([0.0, 1.0, 2.0]), np.array([3.0, 3.0, 3.0]))
    assert v.tolist() == [0.0, 0.0, 0.0]  # constant upstream gradient: exactly zero


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_0d_input_is_one_row_of_one_for_masks_and_upstream_gradients_too(dtype):
    """0-d x is a slice of one element: softmax 1, so a kept position gives 1, a
    masked one 0 (masked profile), and the VJP is 0 (the 1 x 1 Jacobian is 0)."""
    x = np.asarray(1.5, dtype=dtype)
    kept = oracles.masked_softmax(x, mask=np.array(True), profile="masked")
    gone = oracles.masked_softmax(x, mask=np.array(False), profile="masked")
    vjp = oracles.softmax_vjp(x, np.array(2.0))
    assert [(a.shape, float(a)) for a in (kept, gone, vjp)] == [((), 1.0), ((), 0.0), ((), 0.0)]
    assert kept.dtype == gone.dtype == vjp.dtype == np.dtype(dtype)


flint = pytest.importorskip("flint", reason="python-flint not installed: independent arb cross-check skipped")


def _arb_softmax(xs, prec=300):
    flint.ctx.prec = prec
    a = [flint.arb(float(v)) for v in xs]
    m = max(xs)
    e = [(v - m).exp() for v in a]
    s = sum(e[1:], e[0])
    return [v / s for v in e]


def _arb_rounds_to(ball, fmt, want):
    mp.prec = 400
    lo = mp.mpf(ball.mid().str(120, radius=False)) - mp.mpf(ball.rad().str(30, radius=False))
    hi = mp.mpf(ball.mid().str(120, radius=False)) + mp.mpf(ball.rad().str(30, radius=False))
    a, b = round_mpf(lo, fmt), round_mpf(hi, fmt)
    return a == b == want or (a != b and want in (a, b))


@pytest.mark.parametrize("dt", ["float16", "bfloat16", "float32", "float64"])
def test_flint_arb_cross_check(dt):
    rng = np.random.default_rng(7)
    fmt = FORMATS[dt]
    rows = [rng.normal(size=12) * 10, rng.normal(size=5) * 300, np.array([0.0, -80.0, -100.0, -700.0]),
            np.array([1e4, 1e4 - 1, -1e4])]
    for r in rows:
        x = r.astype(fmt.dtype)
        got = oracles.softmax(x).astype(np.float64)
        balls = _arb_softmax(x.astype(np.float64).tolist())
        for g, ball in zip(got, balls):
            assert _arb_rounds_to(ball, fmt, float(g)), (dt, r, g, ball)


def test_log_family_values():
    x = np.array([1.0, 2.0, 3.0])
    mp.prec = 200
    lse = mp.log(sum(mp.exp(v) for v in (1, 2, 3)))
    assert oracles.logsumexp(x) == float(lse)
    assert oracles.log_softmax(x).tolist() == [float(mp.mpf(v) - lse) for v in (1, 2, 3)]
    assert math.isclose(float(oracles.sigmoid(np.array([3.0]))[0]), 1 / (1 + math.exp(-3)), rel_tol=1e-15)


def test_soft_cross_entropy_with_a_zero_target_on_a_minus_inf_logit():
    # Class 0: t = 0 at s = 0 (0 * log 0); class 1: t > 0 at s = 0 (an infinite loss).
    x, t = np.array([[-np.inf, -np.inf, 0.0]]), np.array([[0.0, 0.5, 0.5]])
    assert np.isnan(oracles.cross_entropy(x, t, profile="ieee")[0])  # 0 * -inf is NaN, and NaN + inf is NaN
    assert oracles.cross_entropy(x, t, profile="limit")[0] == np.inf  # 0 log 0 = 0 leaves the infinite term

