"""Probabilities lie in [0, 1] and each slice sums to 1 within the summed budgets."""

PROPERTY = "sum_to_one"


def test_sum_to_one(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
