"""Ground truth for the softmax family: mpmath interval arithmetic, correctly
rounded to float16, bfloat16, float32 and float64.  Imports no framework."""

from .api import (
    FUNCTIONS,
    Exact,
    cross_entropy,
    evaluate,
    log_softmax,
    logsumexp,
    masked_softmax,
    sigmoid,
    softmax,
    softmax_jacobian,
    softmax_vjp,
)
from .formats import DTYPE_NAMES, FORMATS, Format, dtype_name, format_of, round_mpf, round_raw
from .special import PROFILES

__all__ = [
    "DTYPE_NAMES", "Exact", "FORMATS", "FUNCTIONS", "Format", "PROFILES", "cross_entropy", "dtype_name",
    "evaluate", "format_of", "log_softmax", "logsumexp", "masked_softmax", "round_mpf", "round_raw",
    "sigmoid", "softmax", "softmax_jacobian", "softmax_vjp",
]
