"""log_softmax exponentiates to 1; max <= logsumexp <= max + log n; cross-entropy >= 0."""

PROPERTY = "log_consistency"


def test_log_consistency(impl, dtype, conformance):
    conformance.check(impl, dtype, PROPERTY)
