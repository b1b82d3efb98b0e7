"""The softmax Jacobian's rows sum to 0 and it is symmetric."""

PROPERTY = "jacobian"


def test_jacobian(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
