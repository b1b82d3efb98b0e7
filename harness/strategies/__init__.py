"""Hypothesis strategies for extreme and batched logits, split by concern:
dtype_helpers (formats and casting), shape_helpers (shapes and axes),
hypothesis_helpers (value regimes and whole cases),
reuse (Hypothesis's factories, one strategy object per arguments)."""

from .hypothesis_helpers import REGIMES, cases, regimes_for

__all__ = ["REGIMES", "cases", "regimes_for"]
