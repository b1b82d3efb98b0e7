"""TensorFlow implementations (CPU).

oneDNN is chosen per process by TF_ENABLE_ONEDNN_OPTS ("0"/"false" off,
"1"/"true" on); the mode changes kernels, so it is part of every id.  Unset,
TensorFlow's default on Linux x86 is on only for CPUs with neural-network
features (AVX512_VNNI, AVX512_BF16, AVX_VNNI, AMX), read here from
/proc/cpuinfo.  Nothing here sets the variable: the other mode needs another
process (the `run` command does that).  TensorFlow is imported inside the
adapters, which check that the process really runs the mode in the id.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..modes import onednn_mode
from ..records import Case, Impl, is_soft
from . import ALL_DTYPES, as_rows, moved


def _tf():
    import tensorflow as tf

    try:
        from tensorflow.python.util import _pywrap_util_port as port  # private, so only if present
        got = "on" if port.IsMklEnabled() else "off"
    except (ImportError, AttributeError):
        return tf
    if got != onednn_mode():
        raise RuntimeError(f"TensorFlow runs with oneDNN {got}, the implementation id says {onednn_mode()}")
    return tf


def _run(fn):
    """fn(tf, case) -> tensor, on the CPU; numpy out (bfloat16 stays ml_dtypes.bfloat16)."""
    def call(c: Case) -> np.ndarray:
        tf = _tf()
        with tf.device("/CPU:0"):
            return np.asarray(fn(tf, c).numpy())

    return call


def _x(tf, c: Case):
    return tf.constant(c.logits)


@cache
def _xla_fn(name: str, axis: int):
    """tf.function(jit_compile=True) around tf.nn.<name>: XLA's own lowering of
    the op (fused, not the eager kernel), traced and compiled per shape and dtype;
    one function object per axis, so a repeated shape reuses its executable
    (as jax_impls._jitted)."""
    import tensorflow as tf

    op = getattr(tf.nn, name)
    return tf.function(lambda x: op(x, axis=axis), jit_compile=True, reduce_retracing=False)


def _xla(name: str):
    return lambda tf, c: _xla_fn(name, c.norm_axis)(_x(tf, c))


def _sparse_softmax(tf, c: Case):
    st = tf.sparse.SparseTensor(c.indices.astype(np.int64), c.logits[tuple(c.indices.T)], c.logits.shape)
    return tf.sparse.softmax(tf.sparse.reorder(st)).values  # reorder: a no-op on row-major input


@cache
def _jacobian_fn(dtype: str):
    """batch_jacobian inside one tf.function per dtype, traced once for any (N, k).
    Eagerly, batch_jacobian wraps its pfor loop in a new tf.function on every call
    and traces it again (0.1 s a call, a third of the ci run); inside a function
    the loop is the same pfor graph, traced once."""
    import tensorflow as tf

    def jac(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.softmax(x, axis=-1)
        return tape.batch_jacobian(y, x)

    return tf.function(jac, input_signature=[tf.TensorSpec([None, None], tf.as_dtype(dtype))])


def _jacobian(tf, c: Case):
    rows = as_rows(c.logits, c)  # last axis only: (N, k); a 0-d case is (1, 1)
    return tf.reshape(_jacobian_fn(str(rows.dtype))(tf.constant(rows)), c.logits.shape + rows.shape[-1:])


def _vjp(tf, c: Case):
    x = _x(tf, c)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.softmax(x, axis=c.norm_axis)
    return tape.gradient(y, x, output_gradients=tf.constant(c.upstream))


def _labels(soft: bool):
    def check(c: Case) -> str | None:
        if c.labels is None:
            return "needs labels"
        if is_soft(c.labels) != soft:
            return f"takes {'probability targets' if soft else 'class-index labels'} only"
        return None

    return check


def impls() -> list[Impl]:
    m = f"[onednn={onednn_mode()}]"
    base = dict(family="tensorflow", requires=("tensorflow",))
    note = "computes in the input dtype"
    return [
        Impl(f"tf.nn.softmax{m}", function="softmax",
             fn=_run(lambda tf, c: tf.nn.softmax(_x(tf, c), axis=c.norm_axis)), notes=note, **base),
        Impl(f"tf.nn.log_softmax{m}", function="log_softmax",
             fn=_run(lambda tf, c: tf.nn.log_softmax(_x(tf, c), axis=c.norm_axis)), notes=note, **base),
        Impl(f"tf.function.jit_compile.nn.softmax{m}", function="softmax", fn=_run(_xla("softmax")),
             notes="tf.function(jit_compile=True): XLA's compiled softmax", **base),
        Impl(f"tf.function.jit_compile.nn.log_softmax{m}", function="log_softmax", fn=_run(_xla("log_softmax")),
             notes="tf.function(jit_compile=True): XLA's compiled log_softmax", **base),
        Impl(f"tf.math.reduce_logsumexp{m}", function="logsumexp",
             fn=_run(lambda tf, c: tf.math.reduce_logsumexp(_x(tf, c), axis=c.norm_axis)), notes=note, **base),
        Impl(f"tf.math.sigmoid{m}", function="sigmoid", fn=_run(lambda tf, c: tf.math.sigmoid(_x(tf, c))),
             partner=f"tf.nn.softmax{m}",
             **base),
        Impl(f"tf.nn.softmax_cross_entropy_with_logits{m}", function="cross_entropy",
             fn=_run(lambda tf, c: tf.nn.softmax_cross_entropy_with_logits(
                 tf.constant(c.labels), _x(tf, c), axis=c.norm_axis)),
             supports=_labels(soft=True), notes="probability targets of the logits' shape", **base),
        Impl(f"tf.nn.sparse_softmax_cross_entropy_with_logits{m}", function="cross_entropy",
             fn=_run(lambda tf, c: tf.nn.sparse_softmax_cross_entropy_with_logits(
                 tf.constant(c.labels.astype(np.int64)), tf.constant(moved(c)))),
             supports=_labels(soft=False), last_axis_only=True,
             notes="class-index labels; classes on the last axis only", **base),
        Impl(f"tf.sparse.softmax{m}", function="sparse_softmax", fn=_run(_sparse_softmax),
             dtypes=("float16", "float32", "float64"),
             supports=lambda c: None if c.indices is not None else "needs COO indices",
             notes="SparseTensor over the last dimension; the kernel has no bfloat16", **base),
        Impl(f"tf.GradientTape.batch_jacobian{m}", function="softmax_jacobian", fn=_run(_jacobian),
             dtypes=ALL_DTYPES, last_axis_only=True,
             notes="tape.batch_jacobian(tf.nn.softmax(x), x) on (N, k), in a tf.function", **base),
        Impl(f"tf.GradientTape.gradient{m}", function="softmax_vjp", fn=_run(_vjp),
             notes="tape.gradient(softmax(x), x, output_gradients=upstream)", **base),
    ]
