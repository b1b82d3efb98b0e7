"""The seed's claim: a framework's 2-class softmax is its sigmoid, within both budgets."""

PROPERTY = "sigmoid_equivalence"


def test_sigmoid_equivalence(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
