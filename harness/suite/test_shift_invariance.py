"""f(x + c) == f(x) for a shift c that keeps x + c exact."""

PROPERTY = "shift_invariance"


def test_shift_invariance(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
