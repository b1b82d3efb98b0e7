"""Softmax conformance harness.  Importing it imports no framework."""

from . import _own_packages  # noqa: F401  (first: binds oracles/reports to ours, see there)
from .records import Case, Finding, Impl, Result

# In a module not named "replay", so that importing it cannot rebind harness.replay.
from .replaying import replay

__version__ = "0.1.0"
__all__ = ["Case", "Finding", "Impl", "Result", "replay", "__version__"]
