"""Candidate sampling with fewer samples than classes (issue 16 §2): a seeded check of a
sampled softmax loss against an independent float64 reference and against the exact
expectation of the estimator.

A sampled softmax loss (Jean et al. 2015; TF's ``_compute_sampled_logits``) for logits z,
true class y, a multiset of k sampled classes s_1..s_k and expected counts q (q_c = k·Q(c)
for k draws with replacement from Q) is the softmax cross-entropy over the adjusted logits

    a_0 = z_y - log q_y,   a_j = z_{s_j} - log q_{s_j}   (j = 1..k; dropped where s_j = y)

with the target on column 0:  L = logsumexp(a) - a_0.  Dropping the hits is the exact
limit of TF's -FLT_MAX; forgetting log q is a different estimator (with a non-uniform Q:
under a uniform Q, log q is one constant that cancels, so Q here is log-uniform).

The check draws M candidate sequences from a seeded numpy Generator (so Q and every draw
are known), by one of two processes: ``unique=True`` (the default, as TF's samplers): k
distinct classes, each next one drawn from Q restricted to those not yet drawn, counts =
the exact inclusion probabilities P(c in the set); ``unique=False``: k iid draws, counts
k·Q(c).  It calls the implementation once per draw and makes two tests:

1. **Per draw** (deterministic): |L_impl - L_ref| ≤ δ, L_ref the formula above in float64.
   δ = 4·(k+4)·u·(1 + max|z| + max|log q|), u the dtype's unit roundoff: the first-order
   bound of the shifted logsumexp over k+1 terms (Blanchard, Higham & Higham 2021: each
   adjusted logit carries ≤ 2u·|a| from the subtraction and log q's rounding, the sum of
   k+1 terms ≤ (k+1)u, the log u·|L|), times 2 for safety.
2. **Mean over draws** (statistical): L takes finitely many values, one per ordered sample
   sequence, so E[L] and its range [lo, hi] are computed exactly by enumerating all C**k
   (or C!/(C-k)! unique) sequences with their probabilities (float64; its rounding, ~1e-15, is far inside t).
   Hoeffding's inequality for M independent draws bounded in [lo, hi] gives, with no
   asymptotic (CLT) step,  P(|mean(L_ref) - E[L]| ≥ t) ≤ 2·exp(-2·M·t² / (hi - lo)²) = α,
   so t = (hi - lo)·sqrt(ln(2/α) / (2M)).  The implementation's mean differs from the
   reference's on the same draws by at most δ, so the test is |mean(L_impl) - E[L]| ≤ t + δ
   and a correct implementation fails it with probability at most α = 1e-6 (for the fixed
   seed it either passes or not, every time: the seed makes it reproducible, α says how
   unlucky a seed would have to be).

Finding (TF 2.21): with ``unique=False`` draws, tf.nn.sampled_softmax_loss removes only
one copy of a true class drawn several times (compute_accidental_hits maps each sampled
class to one position), so the per-draw test fails: sampled [0, 0, 0, 0] for label 0
gives log 4 where every copy removed gives 0.  With unique draws it passes.

This is not a test that sampled softmax estimates the full cross-entropy: it is a biased
estimator (E[L] ≠ full CE for finite k) and the theory gives no equality to test.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from .records import Finding

# fn(z (B, C), labels (B,), sampled (k,), true_expected (B, 1), sampled_expected (k,), num_classes) -> (B,)
SampledLoss = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]

ALPHA = 1e-6  # false-alarm bound of the mean test (Hoeffding, exact for bounded draws)
PROPERTY = "sampled_softmax_statistics"


def log_uniform_q(num_classes: int) -> np.ndarray:
    """TF's log-uniform (Zipfian) base distribution: Q(c) = log((c+2)/(c+1)) / log(C+1)."""
    c = np.arange(num_classes, dtype=np.float64)
    return np.log((c + 2) / (c + 1)) / math.log(num_classes + 1)


def reference(z: np.ndarray, labels: np.ndarray, sampled: np.ndarray, true_expected: np.ndarray,
              sampled_expected: np.ndarray, remove_accidental_hits: bool = True) -> np.ndarray:
    """The sampled softmax loss of every row in float64, hits dropped exactly (the limit
    of TF's -FLT_MAX).  Inputs are taken at their exact values (the dtype's, widened)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    a0 = z[np.arange(len(z)), y] - np.log(np.asarray(true_expected, np.float64).reshape(-1))
    a = z[:, sampled] - np.log(np.asarray(sampled_expected, np.float64))[None, :]
    if remove_accidental_hits:
        a = np.where(sampled[None, :] == y[:, None], -np.inf, a)
    allv = np.concatenate([a0[:, None], a], axis=1)
    m = allv.max(axis=1, keepdims=True)
    return (np.log(np.exp(allv - m).sum(axis=1)) + m[:, 0]) - a0


def _sequences(q: np.ndarray, k: int, unique: bool) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered sequence of k draws and its probability: with replacement (iid from q),
    or unique (each draw from q restricted to the classes not yet drawn, renormalised)."""
    n = len(q)
    if not unique:
        seqs = np.array(list(itertools.product(range(n), repeat=k)), dtype=np.int64)
        return seqs, np.prod(q[seqs], axis=1)
    seqs = np.array(list(itertools.permutations(range(n), k)), dtype=np.int64)
    taken = np.concatenate([np.zeros((len(seqs), 1)), np.cumsum(q[seqs], axis=1)[:, :-1]], axis=1)
    return seqs, np.prod(q[seqs] / (1 - taken), axis=1)


def expected_counts(q: np.ndarray, k: int, unique: bool) -> np.ndarray:
    """The log-Q correction's counts: k·q with replacement (TF's unique=False definition);
    for unique draws the exact inclusion probability P(c in the set), by enumeration."""
    if not unique:
        return k * q
    seqs, prob = _sequences(q, k, True)
    return np.array([prob[(seqs == c).any(axis=1)].sum() for c in range(len(q))])


def exact_expectation(z: np.ndarray, label: int, q: np.ndarray, k: int, counts: np.ndarray,
                      unique: bool) -> tuple[float, float, float]:
    """(E[L], min L, max L) of one row's sampled loss over every ordered sequence of k draws
    (C**k with replacement, C!/(C-k)! unique), with the given expected counts."""
    seqs, prob = _sequences(q, k, unique)
    zz = np.asarray(z, np.float64).reshape(1, -1)
    tc = counts[[label]].reshape(1, 1)
    vals = np.array([reference(zz, np.array([label]), s, tc, counts[s])[0] for s in seqs])
    return float(np.sum(prob * vals) / np.sum(prob)), float(vals.min()), float(vals.max())


def draw(rng: np.random.Generator, q: np.ndarray, k: int, unique: bool) -> np.ndarray:
    """One sequence of k classes, by the process _sequences enumerates."""
    if not unique:
        return rng.choice(len(q), size=k, p=q)
    left = q.copy()
    out = np.empty(k, dtype=np.int64)
    for j in range(k):
        out[j] = rng.choice(len(q), p=left / left.sum())
        left[out[j]] = 0.0
    return out


def check_sampled_loss(fn: SampledLoss, *, z: np.ndarray | None = None, label: int = 0, k: int = 4,
                       draws: int = 4000, seed: int = 0, dtype: type = np.float32,
                       alpha: float = ALPHA, unique: bool = True) -> Finding:
    """Run the per-draw and the mean test on ``fn`` (see the module docstring); the
    Finding's verdict is 'bounded' when both hold, 'out-of-bound' otherwise, with the
    numbers in ``stats``."""
    if z is None:
        # Six classes, the true one (0) not the largest and log q far from constant, so
        # that forgetting log q or the hits moves E[L] by much more than t.
        z = np.array([0.5, 2.0, -1.0, 1.5, 0.0, 3.0])
    z = np.asarray(z, dtype=dtype).reshape(1, -1)
    n = z.shape[1]
    q = log_uniform_q(n)
    cnt = expected_counts(q, k, unique).astype(dtype)  # handed to the implementation, in its dtype
    rng = np.random.default_rng(seed)
    samples = np.array([draw(rng, q, k, unique) for _ in range(draws)])
    y = np.array([label])
    got = np.empty(draws)
    ref = np.empty(draws)
    for i, s in enumerate(samples):
        got[i] = np.asarray(fn(z, y, s, cnt[[label]].reshape(1, 1), cnt[s], n), dtype=np.float64)[0]
        ref[i] = reference(z, y, s, cnt[[label]].reshape(1, 1), cnt[s])[0]
    u = float(np.finfo(dtype).eps) / 2
    delta = 4 * (k + 4) * u * (1 + float(np.abs(z).max()) + float(np.abs(np.log(cnt.astype(np.float64))).max()))
    dev = np.abs(got - ref)
    dev = np.where(np.isnan(dev), np.inf, dev)
    worst = int(np.argmax(dev))
    # E[L] with the dtype-rounded counts the implementation saw: q's own rounding is then
    # not an error of the implementation.
    mean_exact, lo, hi = exact_expectation(z[0], label, q, k, cnt.astype(np.float64), unique)
    t = (hi - lo) * math.sqrt(math.log(2 / alpha) / (2 * draws))
    mean_got = float(np.mean(got))
    gap = abs(mean_got - mean_exact)
    per_draw_ok = bool(dev.max() <= delta)
    mean_ok = bool(gap <= t + delta)
    ulps = dev / np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
    stats = {"draws": draws, "k": k, "unique": unique, "classes": n, "seed": seed, "alpha": alpha,
             "per_draw_max_abs": float(dev.max()), "per_draw_budget_abs": delta,
             "mean": mean_got, "expectation": mean_exact, "gap": gap, "t": t, "range": [lo, hi],
             "per_draw_ok": per_draw_ok, "mean_ok": mean_ok}
    msg = (f"per draw: max |L - L_ref| {dev.max():.3g} (budget {delta:.3g}) at draw {worst} "
           f"sampled {samples[worst].tolist()}; mean over {draws} draws {mean_got:.6g} vs E[L] {mean_exact:.6g}: "
           f"gap {gap:.3g} (bound t + δ = {t + delta:.3g}, false alarm ≤ {alpha:g})")
    return Finding(PROPERTY, "bounded" if per_draw_ok and mean_ok else "out-of-bound",
                   max_ulp=float(ulps.max()), worst_index=[worst], message=msg, stats=stats)


def tf_sampled_loss(remove_accidental_hits: bool = True) -> SampledLoss:
    """tf.nn.sampled_softmax_loss as a SampledLoss, through the exact layer of
    harness.impls.tf_sampled (inputs = I_B, weights = zᵀ, biases = 0: B = 1 ≤ C here).
    One tf.function per (classes, samples): eager TF takes ~30 ms a call, which for
    thousands of draws is minutes; the traced graph runs the same ops.  TensorFlow is
    imported on first call."""
    graphs: dict[tuple[int, int], Callable] = {}

    def fn(z, labels, sampled, true_expected, sampled_expected, num_classes):
        import tensorflow as tf

        key = (num_classes, len(sampled))
        if key not in graphs:
            def g(z_, y_, s_, te_, se_):
                return tf.nn.sampled_softmax_loss(
                    tf.transpose(z_), tf.zeros([num_classes], z_.dtype), tf.reshape(y_, [-1, 1]),
                    tf.eye(tf.shape(z_)[0], dtype=z_.dtype), num_sampled=key[1], num_classes=num_classes,
                    sampled_values=(s_, te_, se_), remove_accidental_hits=remove_accidental_hits)

            graphs[key] = tf.function(g, reduce_retracing=True)
        dt = z.dtype
        with tf.device("/CPU:0"):
            return graphs[key](tf.constant(z), tf.constant(labels.astype(np.int64)),
                               tf.constant(sampled.astype(np.int64)), tf.constant(true_expected.astype(dt)),
                               tf.constant(sampled_expected.astype(dt))).numpy()

    return fn
