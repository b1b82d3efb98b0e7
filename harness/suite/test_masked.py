"""Masked-out positions are exact zeros."""

PROPERTY = "masked"


def test_masked(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
