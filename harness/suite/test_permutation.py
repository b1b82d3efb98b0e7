"""Permuting the slice permutes the output (logsumexp and cross-entropy: unchanged)."""

PROPERTY = "permutation"


def test_permutation(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
