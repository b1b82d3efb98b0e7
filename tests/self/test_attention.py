"""Attention as masked softmax (harness/impls/attention.py): the exact
construction Q = logits, K = V = I, scale 1 gives the softmax weights, a fully
masked row follows the convention the implementation claims, and what the
construction cannot carry is unsupported with its reason."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from harness.evaluate import accuracy, invoke
from harness.impls.attention import MAX_N
from harness.records import Case
from harness.registry import all_impls

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
SDPA = [i for i in all_impls() if i.id.startswith("torch.nn.functional.scaled_dot_product_attention")
        and i.device == "cpu" and "mask=causal" not in i.id]


def _case(logits, mask, axis=-1) -> Case:
    return Case(np.asarray(logits), axis=axis, mask=np.asarray(mask, dtype=bool))


@pytest.mark.parametrize("impl", SDPA, ids=lambda i: i.id)
def test_weights_are_the_masked_softmax(impl):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 4, (3, 5, 7)).astype(np.float32)
    mask = rng.random(x.shape) < 0.7
    mask[..., 0] = True  # no fully masked slice here
    c = _case(x, mask, axis=1)  # a middle axis: the adapter moves it last and back
    f = accuracy(impl, c, invoke(impl, c).output)
    assert f.verdict in ("exact", "good"), f.message


@pytest.mark.parametrize("impl", SDPA, ids=lambda i: i.id)
def test_fully_masked_row_gives_zeros(impl):
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]], np.float32)
    mask = np.array([[True, True, False], [False, False, False]])
    out = invoke(impl, _case(x, mask)).output
    assert impl.profile == "masked"
    assert (out[1] == 0).all() and out[0, 2] == 0 and abs(out[0].sum() - 1) < 1e-6


def test_unsupported_cases_say_why():
    from harness.impls.attention import MAX_PER_SLICE

    impl = SDPA[0]
    assert impl.supports(_case([0.0, np.inf], [True, True])) is None  # one K per slice
    rows = MAX_PER_SLICE // 64**2 + 1
    big = np.zeros((rows, 64), np.float32)
    big[0, 0] = np.nan
    assert "per slice" in impl.supports(_case(big, np.ones(big.shape)))
    assert impl.supports(_case(big[:-1], np.ones(big[:-1].shape))) is None
    assert "n²" in impl.supports(_case(np.zeros(MAX_N + 1, np.float32), np.ones(MAX_N + 1)))
    assert impl.supports(Case(np.zeros(3, np.float32), axis=-1)) == "needs a mask"
    assert impl.supports(_case(np.zeros(MAX_N, np.float32), np.ones(MAX_N))) is None


CAUSAL = [i for i in all_impls() if "mask=causal" in i.id and i.device == "cpu" and i.availability()[0]]
ALL = SDPA + CAUSAL + [i for i in all_impls() if i.id.startswith("jax.nn.dot_product_attention")
                       and i.device == "cpu" and i.availability()[0] and "mask=causal" not in i.id]


@pytest.mark.parametrize("impl", ALL, ids=lambda i: i.id)
@pytest.mark.parametrize("shape", [(0,), (2, 0), ()])
def test_empty_axis_and_scalar_reach_the_kernel(impl, shape):
    """The adapter's own reshapes must not raise for the framework (reshape(-1, 0) would)."""
    c = _case(np.zeros(shape, np.float32), np.ones(shape, bool))
    oc = invoke(impl, c)
    assert oc.error is None and oc.output.shape == shape


@pytest.mark.parametrize("impl", SDPA, ids=lambda i: i.id)
def test_length_one_axis_on_a_middle_axis(impl):
    """(1, 2) softmaxed over axis 0: rows of length 1.  numpy gives the moved
    length-1 axis a stride of 2 elements; handed on as is, torch's flash kernel
    refused it ("No available kernel").  The adapter passes canonical strides."""
    c = _case(np.zeros((1, 2), np.float16), np.ones((1, 2), bool), axis=0)
    oc = invoke(impl, c)
    assert oc.error is None and (oc.output == 1).all()


JAX = [i for i in ALL if i.id.startswith("jax.") and "mask=causal" not in i.id]


@pytest.mark.parametrize("impl", JAX, ids=lambda i: i.id)
def test_jax_fully_masked_row_per_mask_kind(impl):
    # boolean mask: masked scores filled with a large finite negative, so a fully masked row is
    # uniform 1/n (a known finding against the masked convention it is graded under); an additive
    # -inf bias: softmax over all -inf, NaN, the ieee convention the mode claims
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]], np.float32)
    mask = np.array([[True, True, False], [False, False, False]])
    out = invoke(impl, _case(x, mask)).output
    assert out[0, 2] == 0 and abs(out[0].sum() - 1) < 1e-6
    if "mask=additive" in impl.id:
        assert impl.profile == "ieee" and np.isnan(out[1]).all()
    else:
        assert impl.profile == "masked" and np.allclose(out[1], 1 / 3)


MHA = [i for i in all_impls() if i.id.startswith("keras.layers.MultiHeadAttention") and i.availability()[0]]


@pytest.mark.parametrize("impl", MHA, ids=lambda i: i.id)
def test_keras_mha_scores_are_the_masked_softmax(impl):
    # Q = logits x 2**k against key_dim = 4**k: the layer's 1/sqrt(key_dim) gives the logits back
    rng = np.random.default_rng(2)
    x = rng.normal(0, 4, (4, 5)).astype(np.float32)
    mask = rng.random(x.shape) < 0.7
    mask[:, 0], mask[3] = True, False  # row 3 fully masked
    c = _case(x, mask)
    out = invoke(impl, c).output
    assert (out[3] == 0).all() and impl.profile == "masked"
    f = accuracy(impl, c, out)
    assert f.verdict in ("exact", "faithful", "good"), f.message
    assert "overflow" in impl.supports(_case(np.full(5, 3e38, np.float32), np.ones(5)))
    assert "> 256" in impl.supports(_case(np.zeros(257, np.float32), np.ones(257)))


@pytest.mark.parametrize("impl", CAUSAL, ids=lambda i: i.id)
def test_causal_weights_are_the_masked_softmax(impl):
    """is_causal with each slice permuted kept-first into query row k - 1: the weights, on a
    middle axis, with slices of equal k sharing no batch element."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 4, (4, 6, 5)).astype(np.float32)
    mask = rng.random(x.shape) < 0.5
    mask[:, 2, :] = True  # every slice keeps one; several slices keep the same number
    c = _case(x, mask, axis=1)
    oc = invoke(impl, c)
    f = accuracy(impl, c, oc.output)
    assert f.verdict in ("exact", "faithful", "good"), f.message
    assert (oc.output[~mask] == 0).all()


@pytest.mark.parametrize("impl", CAUSAL, ids=lambda i: i.id)
def test_causal_wrong_query_row_would_fail(impl, monkeypatch):
    """The construction can fail: with each slice one query row too far (k kept logits and
    one masked one in the window), the masked position gets weight and accuracy fails."""
    from harness.impls import attention_causal as ac

    layout = ac._layout
    monkeypatch.setattr(ac, "_layout", lambda keep: (lambda o, r, s, n: (o, np.minimum(r + 1, keep.shape[1] - 1),
                                                                           s, n))(*layout(keep)))
    x = np.array([[1.0, 2.0, 3.0, 4.0]], np.float32)
    c = _case(x, [[True, False, True, False]])
    assert accuracy(impl, c, invoke(impl, c).output).verdict == "out-of-bound"


def test_causal_layout_and_what_it_cannot_express():
    from harness.impls.attention_causal import MAX_ELEMENTS, _layout, _supports

    keep = np.array([[True, False, True], [False, True, False], [True, True, False], [False, False, True]])
    order, row, slot, slots = _layout(keep)
    assert order[0].tolist() == [0, 2, 1] and row.tolist() == [1, 0, 1, 0]
    assert slots == 2 and len({(s, r) for s, r in zip(slot, row)}) == 4  # one query row per slice
    assert "fully masked" in _supports(_case(np.zeros((2, 3), np.float32), [[True, False, False], [False] * 3]))
    n = 1024
    many = _case(np.zeros((MAX_ELEMENTS // n**2 + 1, n), np.float32), np.ones((MAX_ELEMENTS // n**2 + 1, n)))
    assert "elements" in _supports(many)
    assert _supports(_case(np.zeros((MAX_ELEMENTS // n**2, n), np.float32), np.ones((MAX_ELEMENTS // n**2, n)))) is None


NONFINITE = SDPA + [i for i in all_impls() if i.id.startswith("jax.nn.dot_product_attention") and i.device == "cpu"
                    and i.availability()[0] and "mask=causal" not in i.id]


@pytest.mark.parametrize("impl", NONFINITE, ids=lambda i: i.id)
def test_non_finite_logits_reach_the_kernel_exactly(impl):
    """One K per slice carries +inf, -inf and NaN into the scores exactly: a masked-out
    -inf leaves the kept weights exact (a shared K = I would make every score NaN)."""
    x = np.array([[-np.inf, 2.0, 1.0], [0.5, -1.0, 4.0]], np.float32)
    c = _case(x, [[False, True, True], [True, True, True]])
    out = invoke(impl, c).output
    assert out[0, 0] == 0
    assert accuracy(impl, c, out).verdict in ("exact", "faithful", "good")


@pytest.mark.parametrize("impl", NONFINITE, ids=lambda i: i.id)
def test_masked_out_nan_is_recorded_as_the_kernel_gives_it(impl):
    """pytorch#101967: a NaN at a masked-out position.  jax's boolean mask selects it
    away; torch's SDPA adds the mask as a -inf bias, NaN + -inf = NaN, and the row is NaN."""
    x = np.array([[1.0, np.nan, 2.0]], np.float32)
    out = invoke(impl, _case(x, [[True, False, True]])).output
    if impl.id.startswith("jax.") and "mask=additive" not in impl.id:
        assert out[0, 1] == 0 and abs(out[0].sum() - 1) < 1e-6
    else:
        assert np.isnan(out).all()
