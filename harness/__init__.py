"""Softmax conformance harness.  Importing it imports no framework, and
nothing heavy at all until a name below is used: the pytest plugin is
loaded into every pytest session of the environment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _own_packages  # noqa: F401  (first: binds oracles/reports to ours, see there)

if TYPE_CHECKING:
    from .records import Case, Finding, Impl, Result
    from .replaying import replay

__version__ = "0.1.0"
__all__ = ["Case", "Finding", "Impl", "Result", "replay", "__version__"]


def __getattr__(name: str):
    if name in ("Case", "Finding", "Impl", "Result"):
        from . import records

        return getattr(records, name)
    if name == "replay":
        # From a module not named "replay", so that importing it cannot rebind harness.replay.
        from .replaying import replay

        return replay
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
