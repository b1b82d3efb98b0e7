r"""The row sums of the certified fast path (oracles/fast.py): a vectorised
pairwise TwoSum tree with a proven relative error of u + 3 k^2 u^2, its own
module so that the proof stays beside the code."""

from __future__ import annotations

import numpy as np


def compensated_sum(e: np.ndarray) -> tuple[np.ndarray, int]:
    r"""Row sums of e: (R, n) float64, finite, non-negative, n >= 1.  Returns
    ((R, 1) sums, k) with k = ceil(log2 n) the tree depth, and the proven bound

        |S - sum_j e_j| <= (u + 3 k^2 u^2) sum_j e_j,    u = 2**-53, k u <= 2**-40.

    Vectorised over rows, one numpy pass per tree level (k passes, no Python
    loop per row), and independent of how numpy orders its own reductions:
    the tree is built here from elementwise adds, each one IEEE binary64 RNE.

    Algorithm: a pairwise tree of depth k.  Level 1 folds columns P..n-1 onto
    0..n-P-1 (P = 2**(k-1)); each later level adds the two halves.  Every add
    s = fl(a + b) is a TwoSum, which also gives t with a + b = s + t exactly
    (Knuth; 6 flops, no ordering condition, exact unless overflow, and the
    partial sums here are <= n).  The t's are accumulated in c alongside:
    c_new = fl(fl(c_a + c_b) + t).  The result is S = fl(s_k + c_k).

    Proof.  Let X = sum_j e_j >= 0.  Exactly, X = s_k + T where T is the sum
    of all t's.
      (a) The s-tree is a plain pairwise sum of non-negative terms, so a node
          at level l holds at most (1 + gamma_l) times its subtree's exact sum,
          and the nodes of one level sum to at most (1 + gamma_l) X.  TwoSum's
          |t| <= u |s|, so sum |t| <= u sum_{l<=k} (1 + gamma_l) X <= k u (1 + gamma_k) X.
      (b) A t made at level l passes through at most 2 (k - l) + 1 <= 2k
          roundings in the c-tree, so |c_k - T| <= gamma_{2k} sum |t|.
      (c) S = fl(s_k + c_k): |S - (s_k + c_k)| <= u |s_k + c_k| <= u (X + |c_k - T|).
    Hence |S - X| <= u X + (1 + u) gamma_{2k} k u (1 + gamma_k) X
                  <= u X + 2.0001 k^2 u^2 X   (k u <= 2**-40)
                  <= (u + 3 k^2 u^2) X.
    Numbers: n = 2**17 (k = 17): 3 k^2 u^2 = 867 u^2 = 2**-43.8 u, nothing next to
    the 1 u that math.fsum's correct rounding was charged before; the bound is
    as tight as fsum's in practice, so no more elements go undecided.  Any n
    numpy can hold has k <= 63 and 3 k^2 u <= 1.4e-12.  (A bound with no
    compensation would be gamma_k, 17 u at n = 2**17, or gamma_{n-1} for an
    unknown order: 2**-36 relative, still < 0.01 ulp of float32 (2**-30.6
    relative at worst), but it widens every element's interval enough that a
    long softmax row, which is decided only if all its elements are, would
    go to mpmath far more often; undecided elements are slower, never wrong.)
    """
    n = e.shape[-1]
    if n == 1:
        return e.copy(), 0
    k = (n - 1).bit_length()
    P = 1 << (k - 1)
    s = np.empty((e.shape[0], P))
    c = np.zeros_like(s)
    r = n - P  # 1 <= r <= P
    a, b = e[:, :r], e[:, P:]
    sa = np.add(a, b, out=s[:, :r])
    s[:, r:] = e[:, r:P]
    _two_sum_err(a, b, sa, out=c[:, :r])
    while s.shape[-1] > 1:
        h = s.shape[-1] // 2
        a, b = s[:, :h], s[:, h:]
        sa = a + b
        t = _two_sum_err(a, b, sa)
        c = np.add(c[:, :h], c[:, h:])
        c += t
        s = sa
    return s + c, k


def _two_sum_err(a: np.ndarray, b: np.ndarray, sa: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """TwoSum's error term t = (a - (sa - bb)) + (b - bb), bb = sa - a, for sa = fl(a + b):
    oracles.dd.two_sum's, written into ``out`` (a view of the tree) where given."""
    bb = sa - a
    t = np.subtract(sa, bb, out=out)
    np.subtract(a, t, out=t)
    np.subtract(b, bb, out=bb)
    t += bb
    return t
