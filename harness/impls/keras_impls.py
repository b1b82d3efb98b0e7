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
def _dense(keras, x, c: Case, dt: str):
    k = c.logits.shape[-1]
    layer = keras.layers.Dense(k, activation="softmax", kernel_initializer="identity",
                               bias_initializer="zeros", dtype=dt)
    return layer(x)


def _cce(keras, x, c: Case, dt: str):
    loss = keras.losses.CategoricalCrossentropy(from_logits=True, reduction=None, axis=c.norm_axis, dtype=dt)
    return loss(keras.ops.convert_to_tensor(c.labels, dtype=dt), x)


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
        Impl(f"keras.seed_Dense_softmax{m}", function="softmax", fn=_run(_dense, b), ranks=(2,),
             last_axis_only=True,
             notes=note + "; seed 003 Dense(k, activation='softmax'), identity kernel, zero bias "
                          "(x @ I: an inf or NaN logit spreads NaN over its row)", **base),
        Impl(f"keras.losses.CategoricalCrossentropy{m}", function="cross_entropy", fn=_run(_cce, b),
             supports=lambda c: None if c.labels is not None and is_soft(c.labels) else
             "needs probability-target labels",
             notes=note + "; from_logits=True, reduction=None, probability targets", **base),
    ]
