"""Softmax conformance harness.  Importing it imports no framework."""

from .records import Case, Finding, Impl, Result

__version__ = "0.1.0"
__all__ = ["Case", "Finding", "Impl", "Result", "replay", "__version__"]


def replay(case_or_json, impl_id: str | None = None, prop: str | None = None, function: str = "softmax"):
    """Re-run a stored case.  ``case_or_json`` is a Case, its JSON dict, or a
    JSON string.  With ``impl_id``, returns that implementation's findings for
    ``prop`` (all applicable properties when None); without, the oracle's
    correctly rounded ``function`` output."""
    import json

    from .replay import replay as _replay

    if isinstance(case_or_json, str):
        case_or_json = json.loads(case_or_json)
    case = case_or_json if isinstance(case_or_json, Case) else Case.from_json(case_or_json)
    return _replay(case, impl_id, prop, function)
