"""The harness's own checks, mutation-tested: replace one property by one
that passes everything, and some bug-zoo member must then escape every
property in every one of its dtypes.  A property no member needs could be
deleted without any self-test noticing.

Special values are judged outside Hypothesis (conformance.special_values
calls special_values.check_class per fixed class), so that property is
mutated by making check_class pass whatever it saw."""

from dataclasses import replace

import pytest
from zoo import MEMBERS, flags

import harness.special_values as special_values_module
from harness.properties import PROPERTIES, applies
from harness.records import Finding

# Implied by accuracy on the same case, so no member can need it: stability
# flags a non-finite output where the exact one is finite (accuracy: a
# special-value mismatch) or a zero beyond the bounded budget (accuracy:
# out-of-bound).  It stays for what its verdict names.
IMPLIED = {"stability": "implied by accuracy: every stability failure is an accuracy failure on the same case",
           # The corpus names upstream reports on fixed inputs, judged by the same oracle and convention rules
           # as accuracy and special_values on generated ones; its own planted bugs are in test_upstream_corpus.
           "upstream": "a named, readable subset: the generated regimes and special-value classes reach its defects"}


def escapes(member) -> str | None:
    """None if some property flags ``member`` in some dtype (checked in a
    cheap order: its expected properties first), else its id."""
    order = list(member.expect) + [p for p in PROPERTIES if p not in member.expect]
    for dtype in member.dtypes:
        for prop in order:
            if applies(prop, member.impl.function) and flags(member.impl, dtype, prop):
                return None
    return member.impl.id


def _mutate(monkeypatch, prop: str) -> list:
    """Make ``prop`` pass everything; returns a list that records each call of
    the mutant, so the test can tell the mutation reached the checks."""
    calls = []
    if prop == "special_values":
        real = special_values_module.check_class

        def passing(*args, **kwargs):
            calls.append(args)
            return Finding("special_values", "exact", message="mutant: passes everything"), \
                real(*args, **kwargs)[1]

        monkeypatch.setattr(special_values_module, "check_class", passing)
    else:
        def exact(impl, case):
            calls.append(case.id)
            return Finding(prop, "exact", message="mutant: passes everything")

        monkeypatch.setitem(PROPERTIES, prop, replace(PROPERTIES[prop], fn=exact))
    return calls


PARAMS = [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=IMPLIED[p])) if p in IMPLIED else p
          for p in PROPERTIES]


@pytest.mark.parametrize("prop", PARAMS)
def test_some_member_needs_the_property(monkeypatch, prop):
    expected = [m for m in MEMBERS if prop in m.expect]
    assert expected, f"no zoo member is expected to fail {prop}"
    available = [m for m in expected if m.impl.availability()[0]]
    calls = _mutate(monkeypatch, prop)
    # Members that only this property should catch first: the search stops at the first escape.
    escaped = None
    for member in sorted(available, key=lambda m: len(m.expect)):
        escaped = escapes(member)
        if escaped:
            break
    if not escaped and len(available) < len(expected):
        pytest.skip(f"the members only {prop} catches need frameworks not installed here")
    assert calls, f"the mutant {prop} was never called: the mutation did not reach the checks"
    assert escaped, f"with {prop} passing everything, every member expected to fail it is still caught"
