"""One conformance test per registered property (harness/properties), made
here from the registry: a property added there is a test here, with no file
to copy.  The plugin parametrizes each by implementation and dtype, and the
``conformance`` fixture runs, records and gates it."""

from __future__ import annotations

from collections.abc import Callable

from harness.properties import PROPERTIES


def _test_for(name: str) -> Callable[..., None]:
    def test(impl, dtype, conformance) -> None:
        conformance.check(impl, dtype, name)

    test.__name__ = test.__qualname__ = f"test_{name}"
    test.__doc__ = PROPERTIES[name].doc
    test.PROPERTY = name  # type: ignore[attr-defined]  # read by the plugin (parametrisation, hang notes)
    return test


for _name in PROPERTIES:
    globals()[f"test_{_name}"] = _test_for(_name)
