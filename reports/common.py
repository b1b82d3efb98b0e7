"""What every report section shares: verdict helpers, number and time
formatting, and the page-size limits."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from harness.dtypes import DTYPES
from harness.records import FUNCTIONS, Result
from harness.verdicts import PASSING, worst

PROFILES = ("ieee", "limit", "masked")
NEUTRAL = ("unsupported", "unavailable")  # do not colour a cell when anything else ran
MAX_FAILURES = 1000  # cards in full; past it known findings are counted (new ones never are)
MAX_PLOT_POINTS = 300
MAX_DISAGREEMENT_CASES = 40
MAX_PAIRS = 25
MAX_REPRODUCER = 16000
WINDOW = 12  # array elements shown around the worst one
DEVICE_TOKENS = ("cpu", "cuda", "gpu", "tpu", "mps", "rocm", "xpu")

VERDICT_COLOURS = {
    "exact": ("#1a7f37", "#fff"),
    "faithful": ("#4c9f38", "#fff"),
    "good": ("#a6d96a", "#111"),
    "bounded": ("#e6f098", "#111"),
    "ftz": ("#d9ef8b", "#111"),
    "known": ("#c9c3e6", "#111"),
    "unsupported": ("#eeeeee", "#555"),
    "unavailable": ("#d5d5d5", "#333"),
    "out-of-bound": ("#f46d43", "#111"),
    "wrong-special": ("#d73027", "#fff"),
    "wrong-dtype": ("#b2182b", "#fff"),
    "wrong-shape": ("#b2182b", "#fff"),
    "mutated-input": ("#8e0152", "#fff"),
    "nondeterministic": ("#c51b7d", "#fff"),
    "error": ("#67001f", "#fff"),
    "crash": ("#222222", "#fff"),
    "timeout": ("#444444", "#fff"),
}


def effective(r: Result) -> str:
    """The verdict the report shows: a failure the baseline knows is ``known``."""
    return "known" if r.known and r.verdict not in PASSING else r.verdict


def failing(v: str) -> bool:
    return v not in PASSING


def cell_verdict(verdicts: Iterable[str]) -> str:
    """Worst of ``verdicts``, where unsupported/unavailable count only when
    nothing else ran."""
    vs = list(verdicts)
    real = [v for v in vs if v not in NEUTRAL]
    return worst(real) if real else (worst(vs) if vs else "unsupported")


def dtype_order(d: str) -> int:
    return DTYPES.index(d) if d in DTYPES else 9


def function_order(f: str) -> int:
    return FUNCTIONS.index(f) if f in FUNCTIONS else 99


def fmt_ulp(v: float | None) -> str:
    if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    if v < 10:
        return f"{v:.2g}" if v < 1 else f"{v:.3g}"
    if v < 1e5:
        return f"{v:.0f}" if v >= 100 else f"{v:.1f}"
    return f"{v:.2e}"


def fmt_time(t: object) -> str:
    if not isinstance(t, (int, float)):
        return "–"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def num(v: object) -> float | None:
    """``v`` as a float when it is a finite number (results may hold null, inf, NaN)."""
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None
