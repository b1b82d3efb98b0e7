"""Candidate sampling (issue 16 §2): tf.nn.sampled_softmax_loss at its exact limit graded
against the oracle, the seeded statistical check of harness.sampling, and planted bugs
that each check must catch (each test able to fail)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from harness import sampling as S
from harness.evaluate import accuracy, invoke
from harness.records import Case, Impl
from harness.verdicts import passes

HAVE_TF = importlib.util.find_spec("tensorflow") is not None
needs_tf = pytest.mark.skipif(not HAVE_TF, reason="tensorflow not installed: the TF-specific checks need it")

CASES = [
    (np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0], [-3.0, 7.5, 1e-3]]), np.array([0, 2, 1])),
    (np.array([[40.0, -40.0, 0.5, 3.0, -1.25]]), np.array([1])),  # |z_i - max| ~ 80
    (np.linspace(-9, 9, 4 * 33).reshape(4, 33), np.array([0, 32, 16, 5])),
    (np.array([[0.0]]), np.array([0])),  # one class: loss 0
]


def _impl() -> Impl:
    from harness.impls.tf_sampled import impls

    return impls()[0]


def _limit_verdict(impl: Impl, z: np.ndarray, y: np.ndarray, dtype) -> tuple[str, float | None]:
    case = Case(z.astype(dtype), labels=y)
    assert impl.unsupported(case) is None
    oc = invoke(impl, case)
    assert oc.error is None, oc.error
    f = accuracy(impl, case, oc.output)
    return f.verdict, f.max_ulp


@needs_tf
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", range(len(CASES)))
def test_exact_limit_matches_oracle(dtype, k):
    verdict, ulps = _limit_verdict(_impl(), *CASES[k], dtype)
    assert passes(verdict), (verdict, ulps)


@needs_tf
def test_exact_limit_catches_unremoved_hits():
    """Planted bug: the same construction with remove_accidental_hits=False counts the
    true class twice (logsumexp over [z_y, z_0..z_{C-1}]) and must fail the oracle."""
    from harness.impls import tf_sampled
    from harness.impls.tf_impls import _run

    def no_removal(tf, c: Case):
        n = c.logits.shape[-1]
        z = c.logits.reshape(-1, n)
        return tf_sampled.sampled_loss_tf(tf, z, c.labels.reshape(-1), np.arange(n), np.ones((len(z), 1)),
                                          np.ones(n, z.dtype), n, remove_accidental_hits=False)

    good = _impl()
    bad = Impl("planted.no_hit_removal", "tensorflow", "cross_entropy", _run(no_removal), supports=good.supports)
    verdict, _ = _limit_verdict(bad, *CASES[0], np.float32)
    assert not passes(verdict), verdict
    assert passes(_limit_verdict(good, *CASES[0], np.float32)[0])


@needs_tf
def test_unsupported_inputs_say_why():
    impl = _impl()
    inf = Case(np.array([[1.0, np.inf]], np.float32), labels=np.array([0]))
    assert "non-finite" in impl.unsupported(inf)
    soft = Case(np.array([[1.0, 2.0]], np.float32), labels=np.array([[0.5, 0.5]], np.float32))
    assert "class-index" in impl.unsupported(soft)
    assert "at least one" in impl.unsupported(Case(np.zeros((1, 0), np.float32), labels=np.array([0])))


@needs_tf
def test_half_precision_hit_constant_is_minus_inf():
    """Recorded finding (baseline.toml): -FLT_MAX cast to float16 is -inf and the cross-
    entropy kernel's 0*(+inf) gives NaN; without hit removal the same call is finite."""
    import tensorflow as tf

    from harness.impls.tf_sampled import sampled_loss_tf

    z = np.array([[0.0]], np.float16)
    args = (z, np.array([0]), np.arange(1), np.ones((1, 1)), np.ones(1, np.float16), 1)
    assert np.isnan(sampled_loss_tf(tf, *args).numpy()).all()
    assert np.isfinite(sampled_loss_tf(tf, *args, remove_accidental_hits=False).numpy()).all()


# Planted sampled losses in numpy for the statistical check: a correct control and two bugs.
def _control(z, y, s, te, se, n):
    return S.reference(np.asarray(z, np.float32), y, s, te, se).astype(np.float32)


def _forgets_log_q(z, y, s, te, se, n):
    return S.reference(z, y, s, np.ones_like(te), np.ones_like(se)).astype(np.float32)


def _keeps_hits(z, y, s, te, se, n):
    return S.reference(z, y, s, te, se, remove_accidental_hits=False).astype(np.float32)


def test_statistical_control_passes():
    f = S.check_sampled_loss(_control)
    assert f.verdict == "bounded", f.message
    assert f.stats["mean_ok"] and f.stats["per_draw_ok"]


def test_statistical_check_catches_missing_log_q():
    """Forgetting log Q moves the mean far outside Hoeffding's t, and every draw's value."""
    f = S.check_sampled_loss(_forgets_log_q)
    assert f.verdict == "out-of-bound", f.message
    assert not f.stats["mean_ok"] and not f.stats["per_draw_ok"]


def test_statistical_check_catches_unremoved_hits():
    f = S.check_sampled_loss(_keeps_hits)
    assert f.verdict == "out-of-bound" and not f.stats["per_draw_ok"], f.message


def test_enumeration_is_a_distribution():
    q = S.log_uniform_q(6)
    for unique in (True, False):
        _, prob = S._sequences(q, 3, unique)
        assert abs(prob.sum() - 1) < 1e-12
    # inclusion probabilities of 3 distinct classes sum to 3
    assert abs(S.expected_counts(q, 3, True).sum() - 3) < 1e-12


@needs_tf
def test_tf_passes_statistical_check_with_unique_draws():
    f = S.check_sampled_loss(S.tf_sampled_loss(), unique=True)
    assert f.verdict == "bounded", f.message


@needs_tf
def test_tf_leaves_repeated_hits_with_replacement_draws():
    """Recorded finding: with draws with replacement, TF removes one copy of a repeated
    true class only (compute_accidental_hits maps a class to one position)."""
    import tensorflow as tf

    from harness.impls.tf_sampled import sampled_loss_tf

    z = np.array([[0.5, 2.0, -1.0]], np.float32)
    got = sampled_loss_tf(tf, z, np.array([0]), np.array([0, 0, 0, 0]), np.ones((1, 1)),
                          np.ones(4, np.float32), 3).numpy()
    assert abs(float(got[0]) - np.log(4)) < 1e-6  # all copies removed would give 0
    f = S.check_sampled_loss(S.tf_sampled_loss(), unique=False)
    assert not f.stats["per_draw_ok"], f.message


@needs_tf
@pytest.mark.parametrize(("dtype", "z", "y", "want"), [
    # float64: z_y - FLT_MAX == z_y once |z_y| > 2**180, the hit stays, the true class counts twice
    (np.float64, [[1e60, 0.0]], [0], "out-of-bound"),
    # float32: the hit's z_y - FLT_MAX overflows to -inf below -2**103, then 0*(+inf) in the kernel
    (np.float32, [[1e32, -1e32]], [1], "wrong-special"),
])
def test_hit_constant_fails_at_the_range_ends(dtype, z, y, want):
    """Recorded findings: -FLT_MAX removes the hit only where it dominates the logits and
    does not overflow; the exact losses are ~0 and 2e32."""
    verdict, _ = _limit_verdict(_impl(), np.array(z), np.array(y), dtype)
    assert verdict == want
