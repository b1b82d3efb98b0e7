"""Finite logits give finite outputs, no NaN, and no zero where the exact result is not."""

PROPERTY = "stability"


def test_stability(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
