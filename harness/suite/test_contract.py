"""dtype (or declared upcast) and shape preserved, input not mutated, same bits twice."""

PROPERTY = "contract"


def test_contract(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
