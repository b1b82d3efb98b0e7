"""tf.nn.sampled_softmax_loss at its exact limit, as an implementation of cross_entropy
(issue 16 §2, candidate sampling).

Construction, for logits z of shape (B, C) (classes on the last axis) and class labels y:

* the "hidden layer" and the class embeddings are chosen so that TF's logits are z
  exactly: with d = min(B, C), either inputs = I_B and weights = zᵀ (C × B), or
  inputs = z and weights = I_C; biases = 0.  TF forms ``inputs @ weightsᵀ`` (a matmul) and
  the true logit as ``sum(inputs * w_y)`` (another matmul with ones): every product is
  by 1 or 0 and every sum adds zeros to one value, exact in any accumulation order or
  precision for finite z (0·inf is NaN, so non-finite logits are declared unsupported).
  A -0 logit comes back +0, which changes nothing in a cross-entropy.
* every class is sampled once: ``sampled_values = (arange(C), ones(B, 1), ones(C))``, so
  the subtracted log Q is log(1) = 0 exactly, and num_sampled = num_classes = C;
* remove_accidental_hits=True (TF's default) then finds the true class among the sampled
  ones in every row and adds the constant -FLT_MAX (compute_accidental_hits' weight,
  float32, cast to the logits' dtype) to that copy.

TF then takes softmax cross-entropy over [z_y, z_0, ..., z_y - FLT_MAX, ..., z_{C-1}]
with the one-hot target on column 0: exactly lse(z) - z_y except for the term
exp(z_y - FLT_MAX - max z) ≤ exp(-3.4e38), a relative change of the sum far below any
format's ulp, so the limit is the full cross-entropy and is graded against the oracle
as such.  Where the constant does not do its job that is TF's behaviour, found here:
cast to float16/bfloat16 it is -inf, and the cross-entropy kernel's 0·(+inf) makes the
loss NaN; in float64 it is absorbed (z_y - FLT_MAX == z_y) beyond about |z_y| = 2**180 and the
true class counts twice; in float32 z_y - FLT_MAX overflows to -inf below -2**103.
"""

from __future__ import annotations

import numpy as np

from ..modes import onednn_mode
from ..records import Case, Impl, is_soft
from .tf_impls import _run


def _exact_layer(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, weights) with inputs @ weights.T == z exactly, on the smaller inner dimension."""
    b, c = z.shape
    if b <= c:
        return np.eye(b, dtype=z.dtype), np.ascontiguousarray(z.T)
    return np.ascontiguousarray(z), np.eye(c, dtype=z.dtype)


def sampled_loss_tf(tf, z: np.ndarray, labels: np.ndarray, sampled: np.ndarray, true_expected: np.ndarray,
                    sampled_expected: np.ndarray, num_classes: int, remove_accidental_hits: bool = True):
    """tf.nn.sampled_softmax_loss on logits z (B, C) through the exact layer, with the caller's
    sampled_values (so Q is known); one loss per row.  Shared with harness.sampling."""
    inputs, weights = _exact_layer(z)
    dt = z.dtype
    return tf.nn.sampled_softmax_loss(
        tf.constant(weights), tf.constant(np.zeros(weights.shape[0], dt)),
        tf.constant(labels.astype(np.int64).reshape(-1, 1)), tf.constant(inputs),
        num_sampled=len(sampled), num_classes=num_classes,
        sampled_values=(tf.constant(sampled.astype(np.int64)), tf.constant(true_expected.astype(dt)),
                        tf.constant(sampled_expected.astype(dt))),
        remove_accidental_hits=remove_accidental_hits)


def _all_classes(tf, c: Case):
    n = c.logits.shape[-1]
    z = c.logits.reshape(-1, n)
    ones = np.ones(n, dtype=z.dtype)
    loss = sampled_loss_tf(tf, z, c.labels.reshape(-1), np.arange(n), np.ones((len(z), 1)), ones, n)
    return tf.reshape(loss, c.logits.shape[:-1])


def _supports(c: Case) -> str | None:
    if c.labels is None:
        return "needs labels"
    if is_soft(c.labels):
        return "takes class-index labels only (one true class per row, num_true=1)"
    if c.logits.ndim == 0 or c.logits.size == 0:
        return "needs at least one row and one class (num_sampled = num_classes = C >= 1)"
    if not np.all(np.isfinite(c.logits.astype(np.float64))):
        return ("non-finite logits: the exact layer multiplies them by 0 (0*inf = NaN), "
                "so the construction is exact for finite logits only")
    return None


def impls() -> list[Impl]:
    return [
        Impl(f"tf.nn.sampled_softmax_loss[all-classes,onednn={onednn_mode()}]", family="tensorflow",
             function="cross_entropy", requires=("tensorflow",), fn=_run(_all_classes),
             supports=_supports, last_axis_only=True,
             notes="every class sampled (Q = 1, log Q = 0), accidental hits removed: the exact limit, "
                   "full softmax cross-entropy; inputs/weights make inputs @ weights.T = logits exactly"),
    ]
