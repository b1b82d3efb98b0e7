"""One conformance test per registered property (harness/properties), made
here from the registry: a property added there is a test here, with no file
to copy.  The plugin parametrizes each by implementation and dtype, and the
``conformance`` fixture runs, records and gates it."""

from __future__ import annotations

from collections.abc import Callable

from harness.properties import PROPERTIES
from harness.session import SUITE_ATTR


def _test_for(name: str) -> Callable[..., None]:
    def test(impl, dtype, conformance) -> None:
        conformance.check(impl, dtype, name)

    test.__name__ = test.__qualname__ = f"test_{name}"
    test.__doc__ = PROPERTIES[name].doc
    setattr(test, SUITE_ATTR, name)  # the plugin parametrizes only these tests, and notes the property of a hang
    return test


for _name in PROPERTIES:
    globals()[f"test_{_name}"] = _test_for(_name)
