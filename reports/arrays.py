"""Stored arrays (``{"dtype", "shape", "b64"}`` as written by
``harness.arrays.encode_array``): decoding, hashing, distances in
representable numbers, and the compact views the failures show."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field

import numpy as np

from harness.arrays import bytes_sha, decode_array

from .common import WINDOW

ValuePair = tuple[str, str]  # (short decimal, hex) of one element


@dataclass
class InputSummary:
    """A stored case in one line: dtype, shape, regime, and the input element
    at the worst index (when the output has the input's shape)."""

    dtype: str
    shape: str  # "2×8", or "scalar"
    regime: str
    axis: int
    id: str
    extras: list[str]  # further inputs the case carries (mask, indices, ...)
    at: ValuePair | None = None


@dataclass
class WindowRow:
    index: str  # "(0, 3)"
    worst: bool
    input: ValuePair | None
    expected: ValuePair | None
    actual: ValuePair | None


@dataclass
class ArrayWindow:
    """Input, expected and actual elements around the worst one."""

    rows: list[WindowRow] = field(default_factory=list)
    note: str = ""
    input_full: list[ValuePair] | None = None  # the whole input, when small
    shapes: dict[str, str] = field(default_factory=dict)  # "expected"/"actual" -> "float32[2×8]"


def decode(d: dict | None) -> np.ndarray | None:
    """The array, or None where it was not stored or cannot be read (the
    report shows what it has rather than stopping)."""
    if not isinstance(d, dict) or "b64" not in d:
        return None
    try:
        return decode_array(d)
    except Exception:
        return None


def sha(d: dict | None) -> str | None:
    """Same hash as the harness's ``output_sha`` (sha256 of the raw bytes)."""
    if not isinstance(d, dict) or "b64" not in d:
        return None
    try:
        return bytes_sha(base64.b64decode(d["b64"]))
    except (ValueError, TypeError):
        return None


def fmt_value(v) -> ValuePair:
    """(short decimal, hex) of one element."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v), ""
    if isinstance(v, (bool, np.bool_)) or (isinstance(v, np.generic) and v.dtype.kind in "iub"):
        return str(v), ""
    if isinstance(v, np.generic) and v.dtype.itemsize < 8:
        text = str(v)  # shortest repr that round-trips in its own dtype (float16, bfloat16, float32)
    else:
        text = repr(f)
    return text, f.hex()


def _flat_index(idx, shape) -> int | None:
    if not isinstance(idx, list) or len(idx) != len(shape):
        return None
    try:
        return int(np.ravel_multi_index(tuple(int(i) for i in idx), tuple(shape)))
    except (ValueError, TypeError):
        return None


def ordinal(a: np.ndarray) -> np.ndarray:
    """Floats mapped to integers (as float64) whose differences count the
    representable numbers between them; +0 and -0 coincide."""
    a = np.ascontiguousarray(a)
    it = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    i = a.view(it).astype(np.int64)
    mag = i & np.int64((1 << (8 * a.dtype.itemsize - 1)) - 1)
    return np.where(i < 0, -mag, mag).astype(np.float64)


def ulp_distance(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Max distance in representable numbers of their (common) dtype; NaN
    against NaN is agreement, NaN against a number is inf."""
    if a is None or b is None or a.dtype != b.dtype or a.shape != b.shape or a.dtype.itemsize not in (2, 4, 8):
        return None
    if a.dtype.kind != "f" and a.dtype.name != "bfloat16":
        return None
    if a.size == 0:
        return 0.0
    fa, fb = a.astype(np.float64), b.astype(np.float64)
    na, nb = np.isnan(fa), np.isnan(fb)
    if np.any(na != nb):
        return math.inf
    keep = ~na
    if not keep.any():
        return 0.0
    return float(np.max(np.abs(ordinal(a)[keep] - ordinal(b)[keep])))


def input_summary(case: dict | None, worst_index=None) -> InputSummary | None:
    """Compact description of a stored case: dtype, shape, regime and the
    input element at the worst index (when the output has the input's shape)."""
    if not isinstance(case, dict):
        return None
    lg = case.get("logits") or {}
    shape = lg.get("shape") or []
    out = InputSummary(dtype=lg.get("dtype", "?"), shape="×".join(str(s) for s in shape) or "scalar",
                       regime=case.get("regime", ""), axis=case.get("axis", -1), id=case.get("id", ""),
                       extras=[k for k in ("mask", "indices", "labels", "upstream") if k in case])
    flat = _flat_index(worst_index, shape)
    if flat is not None:
        hexes = lg.get("hex")
        if isinstance(hexes, list) and flat < len(hexes):
            out.at = fmt_value(float.fromhex(hexes[flat]))
        else:
            x = decode(lg)
            if x is not None and flat < x.size:
                out.at = fmt_value(x.reshape(-1)[flat])
    return out


def array_window(case: dict | None, expected: dict | None, output: dict | None, worst_index) -> ArrayWindow:
    """Rows (index, input, expected, actual) around the worst element, and the
    full input when it is small."""
    x, e, g = decode((case or {}).get("logits")), decode(expected), decode(output)
    ref = e if e is not None else g
    res = ArrayWindow()
    for name, a in (("expected", e), ("actual", g)):
        if a is not None:
            res.shapes[name] = f"{a.dtype.name}[{'×'.join(map(str, a.shape))}]"
    if x is not None and x.size <= 64:
        res.input_full = [fmt_value(v) for v in x.reshape(-1)]
    if ref is None:
        res.note = "output not stored" if x is not None else "case not stored"
        return res
    flat = _flat_index(worst_index, list(ref.shape))
    centre = flat if flat is not None else 0
    lo = max(0, min(centre - WINDOW // 2, ref.size - WINDOW))
    hi = min(ref.size, lo + WINDOW)
    x_flat = x.reshape(-1) if x is not None and x.shape == ref.shape else None  # the input lines up
    for k in range(lo, hi):
        idx = list(np.unravel_index(k, ref.shape)) if ref.ndim else []
        res.rows.append(WindowRow(
            index="(" + ", ".join(str(int(i)) for i in idx) + ")", worst=k == flat,
            input=fmt_value(x_flat[k]) if x_flat is not None else None,
            expected=fmt_value(e.reshape(-1)[k]) if e is not None and e.size == ref.size else None,
            actual=fmt_value(g.reshape(-1)[k]) if g is not None and g.size == ref.size else None))
    if ref.size > hi - lo:
        res.note = f"elements {lo}–{hi - 1} of {ref.size} (flat order)"
    if e is not None and g is not None and e.shape != g.shape:
        res.note += f"; actual has shape {list(g.shape)}, expected {list(e.shape)}"
    return res
