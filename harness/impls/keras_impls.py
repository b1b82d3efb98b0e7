"""Keras 3 implementations under the process's backend.

The backend is chosen per process (KERAS_BACKEND, else the "backend" of
$KERAS_HOME/keras.json or ~/.keras/keras.json, else tensorflow) and is part
of every id, with the backend's own per-process mode (TensorFlow's oneDNN,
JAX's x64), e.g. keras.ops.softmax[backend=jax,x64=off].  Inputs are
converted in the case's dtype and layers/losses get ``dtype=`` the input
dtype, so nothing is silently computed in Keras's float32 default.  Where a
backend still changes the dtype or precision (JAX without x64, Keras's
float64 -> float32 promotion rule off TensorFlow) the properties report it.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

from oracles.formats import FORMATS

from ..modes import backend_mode, onednn_mode, x64_mode
from ..records import Case, Impl, is_soft

BACKEND_PACKAGES = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax", "numpy": None,
                    "openvino": "openvino"}


def _keras(expected: str):
    import keras

    got = keras.backend.backend()
    if got != expected:  # keras was configured differently from what the id says
        raise RuntimeError(f"keras runs backend {got!r}, this implementation id says {expected!r}")
    return keras


def _run(fn, backend: str):
    """fn(keras, x, case, dtype name) -> tensor; x is converted in the case's dtype."""
    def call(c: Case) -> np.ndarray:
        keras = _keras(backend)
        x = keras.ops.convert_to_tensor(c.logits, dtype=c.dtype)
        y = fn(keras, x, c, c.dtype)
        if keras.backend.standardize_dtype(y.dtype) != "bfloat16":
            return np.asarray(keras.ops.convert_to_numpy(y))
        # convert_to_numpy fails on a 0-d bfloat16 TF tensor (np.array(t) raises
        # "__array__ method not producing an array"): go through float32, exactly.
        y = keras.ops.convert_to_numpy(keras.ops.cast(y, "float32"))
        return np.asarray(y).astype(FORMATS["bfloat16"].dtype)

    return call


def _masked(keras, x, c: Case, dt: str):
    mask = keras.ops.convert_to_tensor(c.mask)
    return keras.layers.Softmax(axis=c.norm_axis, dtype=dt)(x, mask=mask)


# Seed 003: "model.add(Dense(3, activation='softmax'))", the output layer whose
# softmax we test; an identity kernel and a zero bias make its input the logits.
@cache
def _dense_layer(keras, k: int, dt: str):
    """One built layer per width and dtype: building one (its identity kernel, its
    weights) cost more than calling it, and the weights never change.  The kernel
    comes from numpy (the same exact 0/1 values as "identity", whose jnp.eye JAX
    compiles once per width)."""
    layer = keras.layers.Dense(k, activation="softmax", kernel_initializer=_eye_initializer(keras),
                               bias_initializer="zeros", dtype=dt)
    layer.build((None, k))
    return layer


def _dense(keras, x, c: Case, dt: str):
    return _dense_layer(keras, c.logits.shape[-1], dt)(x)


def _cce(keras, x, c: Case, dt: str):
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, reduction=None, axis=c.norm_axis, dtype=dt)
    return loss(keras.ops.convert_to_tensor(c.labels, dtype=dt), x)


@cache
def _eye_initializer(keras):
    class PaddedEye(keras.initializers.Initializer):
        """Kernels of the identity, zero-padded: (n, 1, d) with [i, 0, i] = 1, or (k, k) = I for
        Dense (a class, not a function: MultiHeadAttention re-creates its initializer from its config)."""

        def __call__(self, shape, dtype=None):
            a = np.zeros(shape)
            dims = [i for i, s in enumerate(shape) if s != 1] or [0]
            for j in range(min(shape[dims[0]], shape[dims[-1]])):
                at = [0] * len(shape)
                at[dims[0]] = at[dims[-1]] = j
                a[tuple(at)] = 1.0
            return keras.ops.convert_to_tensor(a, dtype=dtype)

        def get_config(self):
            return {}

    return PaddedEye()


def _mha_k(n: int) -> int:
    """key_dim = 4**k >= n, so MultiHeadAttention's query scale 1/sqrt(key_dim) is 2**-k, exact."""
    return max(0, math.ceil(math.log(max(n, 1), 4) - 1e-12))


@cache
def _mha_layer(keras, n: int, dt: str):
    """One layer per axis length and dtype: its kernels are built once, on the first call."""
    return keras.layers.MultiHeadAttention(num_heads=1, key_dim=4 ** _mha_k(n), value_dim=1, use_bias=False,
                                           kernel_initializer=_eye_initializer(keras), dtype=dt)


# MultiHeadAttention's masked softmax isolated by the attention construction
# (harness/impls/attention.py): Q = the logits times 2**k, K = I_n, query and key
# kernels the zero-padded identity, no bias, one head; the layer's scale 2**-k
# then gives the logits back exactly and its attention scores are the weights.
def _mha(keras, x, c: Case, dt: str):
    from . import from_rows
    from .attention import _rows

    q, keep = _rows(c)
    n, k = q.shape[1], _mha_k(q.shape[1])
    layer = _mha_layer(keras, n, dt)
    q = keras.ops.convert_to_tensor((q.astype(np.float64) * 2.0 ** k)[None], dtype=dt)
    eye = keras.ops.convert_to_tensor(np.eye(n)[None], dtype=dt)
    _, w = layer(q, eye, key=eye, attention_mask=keras.ops.convert_to_tensor(keep[None]),
                 return_attention_scores=True)
    return keras.ops.convert_to_tensor(from_rows(np.asarray(keras.ops.convert_to_numpy(
        keras.ops.cast(w, "float32") if dt == "bfloat16" else w))[0, 0], c), dtype=dt)


MHA_MAX_N = 256  # key_dim = 4**k >= n: a new n x key_dim kernel per call (4 min of ci on the torch backend at 2048)


def _mha_supports(c: Case) -> str | None:
    from .attention import _supports

    why = _supports(c)
    n = c.logits.shape[c.norm_axis] if c.logits.ndim else 1
    if why or not c.logits.size:
        return why
    if n > MHA_MAX_N:
        return f"axis of {n} > {MHA_MAX_N}: the layer would build {n} x {4 ** _mha_k(n)} kernels per call"
    big = float(np.max(np.abs(c.logits.astype(np.float64)))) * 2.0 ** _mha_k(n)
    if big > float(FORMATS[c.dtype].max_finite):
        return f"the logits times 2**{_mha_k(n)} (undoing the layer's 1/sqrt(key_dim)) overflow {c.dtype}"
    return None


def impls() -> list[Impl]:
    b = backend_mode()
    # The backend's own per-process modes change Keras's results too.
    extra = {"tensorflow": lambda: f",onednn={onednn_mode()}", "jax": lambda: f",x64={x64_mode()}"}
    m = f"[backend={b}{extra.get(b, str)()}]"
    pkg = BACKEND_PACKAGES.get(b)
    base = dict(family="keras", requires=("keras",) + ((pkg,) if pkg else ()),
                probe=None if b in BACKEND_PACKAGES else (lambda: f"keras: unknown backend {b!r}"))
    note = f"keras 3 on the {b} backend; input converted in its own dtype"
    ax = lambda c: c.norm_axis  # noqa: E731
    return [
        Impl(f"keras.activations.softmax{m}", function="softmax",
             fn=_run(lambda k, x, c, dt: k.activations.softmax(x, axis=ax(c)), b), notes=note, **base),
        Impl(f"keras.ops.softmax{m}", function="softmax",
             fn=_run(lambda k, x, c, dt: k.ops.softmax(x, axis=ax(c)), b), notes=note, **base),
        Impl(f"keras.ops.log_softmax{m}", function="log_softmax",
             fn=_run(lambda k, x, c, dt: k.ops.log_softmax(x, axis=ax(c)), b), notes=note, **base),
        Impl(f"keras.ops.logsumexp{m}", function="logsumexp",
             fn=_run(lambda k, x, c, dt: k.ops.logsumexp(x, axis=ax(c)), b), notes=note, **base),
        Impl(f"keras.layers.Softmax{m}", function="softmax",
             fn=_run(lambda k, x, c, dt: k.layers.Softmax(axis=ax(c), dtype=dt)(x), b),
             notes=note + "; layer dtype= the input dtype (the default policy would compute in float32)",
             **base),
        Impl(f"keras.layers.Softmax.mask{m}", function="masked_softmax", fn=_run(_masked, b), profile="masked",
             supports=lambda c: None if c.mask is not None else "needs a mask",
             notes=note + "; masked positions set to -1e9 (-3e4 in float16) before softmax, then zeroed: "
                          "a fully masked slice gives zeros, an all -inf unmasked one NaN", **base),
        Impl(f"keras.layers.MultiHeadAttention.scores{m}", function="masked_softmax", fn=_run(_mha, b),
             profile="masked", supports=_mha_supports,
             notes=note + "; one head, Q = logits x 2**k, K = I, identity query/key kernels, no bias, "
                          "attention_mask = the mask; return_attention_scores: the softmax weights", **base),
        Impl(f"keras.seed_Dense_softmax{m}", function="softmax", fn=_run(_dense, b), ranks=(2,),
             last_axis_only=True,
             notes=note + "; seed 003 Dense(k, activation='softmax'), identity kernel, zero bias "
                          "(x @ I: an inf or NaN logit spreads NaN over its row)", **base),
        Impl(f"keras.losses.CategoricalCrossentropy{m}", function="cross_entropy", fn=_run(_cce, b),
             supports=lambda c: None if c.labels is not None and is_soft(c.labels) else
             "needs probability-target labels",
             notes=note + "; from_logits=True, reduction=None, probability targets", **base),
    ]
