"""Arrays in records: their exact JSON form (base64 of the little-endian
bytes, plus hex floats for reading), their hash, memory layouts, and the
"one slice per row" view the properties and diagnosis share."""

from __future__ import annotations

import base64
import hashlib

import numpy as np

from oracles.formats import FORMATS

HEX_LIMIT = 64  # arrays up to this many elements also carry readable hex floats


def _np_dtype(name: str) -> np.dtype:
    if name in FORMATS:
        return FORMATS[name].dtype
    return np.dtype(name)


def _little_endian_bytes(a: np.ndarray) -> bytes:
    a = np.ascontiguousarray(a)
    return (a.astype(a.dtype.newbyteorder("<"), copy=False) if a.dtype.byteorder == ">" else a).tobytes()


def bytes_sha(raw: bytes) -> str:
    """The output hash: sha256 of an array's little-endian bytes (as stored in b64), 12 hex digits."""
    return hashlib.sha256(raw).hexdigest()[:12]


def output_sha(a: np.ndarray) -> str:
    return bytes_sha(_little_endian_bytes(a))


def encode_array(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a)
    out = {"dtype": a.dtype.name, "shape": list(a.shape), "b64": base64.b64encode(_little_endian_bytes(a)).decode()}
    if a.dtype.kind == "f" or a.dtype.name == "bfloat16":
        if a.size <= HEX_LIMIT:
            out["hex"] = [float(v).hex() for v in a.astype(np.float64).reshape(-1)]
    elif a.size <= HEX_LIMIT:
        out["values"] = a.reshape(-1).tolist()
    return out


def slices(a: np.ndarray, axis: int, shape: tuple | None = None) -> np.ndarray:
    """``a`` (broadcast to ``shape`` first, if given) as one slice along
    ``axis`` per row: the axis moved last, the rest flattened."""
    a = np.moveaxis(np.broadcast_to(a, shape) if shape is not None else a, axis, -1)
    return a.reshape(-1, a.shape[-1])


def decode_array(d: dict) -> np.ndarray:
    dt = _np_dtype(d["dtype"])
    raw = base64.b64decode(d["b64"])
    return np.frombuffer(raw, dtype=dt).reshape(d["shape"]).copy()


Layout = tuple[tuple[int, ...], tuple[int, ...]]  # (buffer axes in memory order, step per logical axis)


def apply_layout(x: np.ndarray, layout: Layout) -> np.ndarray:
    """A copy of ``x`` (same values, same logical order) laid out in memory as
    ``layout`` says: a C-order buffer whose axes are the logical axes in
    ``order``, viewed with ``step`` per logical axis (|step| > 1 leaves gaps,
    < 0 runs backwards).  The gaps hold NaN, so that a kernel that ignores
    strides reads something that shows."""
    order, step = layout
    if sorted(order) != list(range(x.ndim)) or len(step) != x.ndim or 0 in step:
        raise ValueError(f"layout {layout} does not fit a {x.ndim}-d array")
    floating = x.dtype.kind == "f" or x.dtype.name == "bfloat16"
    buf = np.full([x.shape[a] * abs(step[a]) for a in order], np.nan if floating else 0, dtype=x.dtype)
    view = buf[tuple(slice(None, None, step[a]) for a in order)].transpose(np.argsort(order))
    view[...] = x
    return view


def layout_name(layout: Layout | None) -> str:
    """The layout in words: contiguous, or what departs from it (transposed, strided, reversed)."""
    if layout is None:
        return "contiguous"
    order, step = layout
    parts = [name for name, on in (("transposed", list(order) != sorted(order)),
                                   ("strided", any(abs(s) > 1 for s in step)),
                                   ("reversed", any(s < 0 for s in step))) if on]
    return "-".join(parts) or "contiguous"
