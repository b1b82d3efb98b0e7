"""Every element within its ulp budget of the correctly rounded oracle."""

PROPERTY = "accuracy"


def test_accuracy(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
