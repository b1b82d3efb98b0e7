"""A larger logit never gets a smaller probability; the argmax is kept."""

PROPERTY = "monotonicity"


def test_monotonicity(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
