"""NaN, +inf, -inf, all -inf, empty axes: what came back, graded per profile."""

PROPERTY = "special_values"


def test_special_values(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
