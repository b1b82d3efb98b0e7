"""The four records of the harness: Case, Impl, Finding, Result.

Cases serialise exactly (base64 of the little-endian bytes, plus hex floats for
reading), so any case replays bit for bit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from oracles.api import FUNCTIONS as ORACLE_FUNCTIONS
from oracles.formats import FORMATS, dtype_name

from .dtypes import DTYPES

SCHEMA_VERSION = 1
HEX_LIMIT = 64  # arrays up to this many elements also carry readable hex floats

FUNCTIONS = ORACLE_FUNCTIONS  # the oracle defines every function the harness judges
FAMILIES = ("seed", "numpy", "scipy", "torch", "tensorflow", "keras", "jax", "numba", "cupy", "user", "zoo")


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


@dataclass
class Case:
    """One input to check.  ``logits`` is float16, bfloat16, float32 or float64."""

    logits: np.ndarray
    axis: int = -1
    regime: str = "ordinary"
    mask: np.ndarray | None = None  # bool, True = position takes part
    indices: np.ndarray | None = None  # sparse COO (nnz, ndim), sorted, unique
    labels: np.ndarray | None = None  # int class indices or float targets
    upstream: np.ndarray | None = None  # VJP upstream gradient, shape of logits
    # Memory layout of logits (apply_layout); None = C order.  copy() keeps it, so
    # the implementation's private copy has the strides the case was drawn with.
    layout: Layout | None = None

    EXTRAS = ("mask", "indices", "labels", "upstream")

    @property
    def dtype(self) -> str:
        return dtype_name(self.logits.dtype)

    @property
    def id(self) -> str:
        """Stable hash of dtype, shape, axis and the bytes of every array."""
        h = hashlib.sha256()
        h.update(f"{self.dtype}|{self.logits.shape}|{self.axis}|".encode())
        h.update(np.ascontiguousarray(self.logits).tobytes())
        for name in self.EXTRAS:
            a = getattr(self, name)
            if a is not None:
                a = np.ascontiguousarray(a)
                h.update(f"|{name}:{a.dtype.name}:{a.shape}|".encode())
                h.update(a.tobytes())
        if self.layout is not None:  # same values in another layout: another input
            h.update(f"|layout:{list(self.layout[0])}:{list(self.layout[1])}".encode())
        return h.hexdigest()[:16]

    @property
    def norm_axis(self) -> int:
        return self.axis % self.logits.ndim if self.logits.ndim else 0

    @property
    def row_length(self) -> int:
        return self.logits.shape[self.norm_axis] if self.logits.ndim else 1

    def to_json(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "axis": self.axis, "regime": self.regime,
                             "logits": encode_array(self.logits)}
        for name in self.EXTRAS:
            a = getattr(self, name)
            if a is not None:
                d[name] = encode_array(a)
        if self.layout is not None:
            d["layout"] = {"order": list(self.layout[0]), "step": list(self.layout[1])}
        return d

    @classmethod
    def from_json(cls, d: dict) -> Case:
        kw = {name: decode_array(d[name]) for name in cls.EXTRAS if name in d}
        logits, layout = decode_array(d["logits"]), None
        if d.get("layout"):
            layout = (tuple(int(a) for a in d["layout"]["order"]), tuple(int(s) for s in d["layout"]["step"]))
            logits = apply_layout(logits, layout)
        case = cls(logits, int(d.get("axis", -1)), d.get("regime", "ordinary"), **kw, layout=layout)
        if "id" in d and d["id"] != case.id:
            raise ValueError(f"case id mismatch: stored {d['id']}, recomputed {case.id}")
        return case

    def copy(self) -> Case:
        kw = {n: (None if getattr(self, n) is None else getattr(self, n).copy()) for n in self.EXTRAS}
        logits = self.logits.copy() if self.layout is None else apply_layout(self.logits, self.layout)
        return Case(logits, self.axis, self.regime, **kw, layout=self.layout)

    def short(self, limit: int = 8) -> str:
        flat = self.logits.astype(np.float64).reshape(-1)
        vals = ", ".join(repr(float(v)) for v in flat[:limit]) + (", ..." if flat.size > limit else "")
        laid = f" {layout_name(self.layout)}" if self.layout is not None else ""  # a layout-only bug shows here
        return f"{self.dtype}{list(self.logits.shape)} axis={self.axis}{laid} [{vals}]"


@dataclass
class Impl:
    """An implementation under test.  ``fn(case) -> np.ndarray`` is the adapter:
    numpy in, numpy out; it owns conversion, device sync and dtype handling."""

    id: str
    family: str
    function: str
    fn: Callable[[Case], np.ndarray]
    dtypes: tuple[str, ...] = DTYPES
    device: str = "cpu"
    requires: tuple[str, ...] = ()
    notes: str = ""
    ranks: tuple[int, ...] | None = None  # supported ndim; None = any
    last_axis_only: bool = False
    upcasts: dict[str, str] = field(default_factory=dict)  # declared: input dtype -> output dtype
    judge: str = "output"  # accuracy judged in ulps of the "output" dtype, or of the "input" dtype
    risky: bool = False  # run in a child process (user code, compiled extensions)
    probe: Callable[[], str | None] | None = None  # extra availability check -> reason
    profile: str = "ieee"  # special-value convention it claims
    raises_on: tuple[str, ...] = ()  # special-value classes where it declares raising (harness.special_values)
    supports: Callable[[Case], str | None] | None = None  # extra capability check -> reason
    partner: str | None = None  # sigmoid: id of the same framework's softmax (sigmoid_equivalence)

    def availability(self) -> tuple[bool, str]:
        """(available, reason).  Never raises."""
        import importlib.util

        for mod in self.requires:
            try:
                if importlib.util.find_spec(mod) is None:
                    return False, f"{mod} not installed"
            except (ImportError, ValueError) as e:
                return False, f"{mod}: {e}"
        if self.probe is not None:
            try:
                reason = self.probe()
            except Exception as e:  # a probe failing is an availability answer, not a crash
                reason = f"{type(e).__name__}: {e}"
            if reason:
                return False, reason
        return True, ""

    def unsupported(self, case: Case) -> str | None:
        """Reason why this implementation does not claim ``case``, or None."""
        if case.dtype not in self.dtypes:
            return f"dtype {case.dtype} not declared (supports {', '.join(self.dtypes)})"
        nd = case.logits.ndim
        if self.ranks is not None and nd not in self.ranks:
            return f"rank {nd} not supported (supports {self.ranks})"
        if self.last_axis_only and nd and case.norm_axis != nd - 1:
            return f"only the last axis is supported (case axis {case.axis})"
        if self.supports is not None:
            return self.supports(case)
        return None

    def out_dtype(self, case: Case) -> str:
        return self.upcasts.get(case.dtype, case.dtype)

    def judge_dtype(self, case: Case) -> str:
        """dtype whose ulps measure accuracy: the output's, unless the upcast is
        nominal (computed at the input's precision, then widened)."""
        return case.dtype if self.judge == "input" else self.out_dtype(case)

    def call(self, case: Case) -> np.ndarray:
        return np.asarray(self.fn(case))

    def describe(self) -> dict:
        ok, reason = self.availability()
        return {
            "id": self.id,
            "family": self.family,
            "function": self.function,
            "device": self.device,
            "dtypes": list(self.dtypes),
            "available": ok,
            "reason": reason,
            "notes": self.notes,
            "upcasts": dict(self.upcasts),
            "judge": self.judge,
            "ranks": None if self.ranks is None else list(self.ranks),
            "last_axis_only": self.last_axis_only,
            "profile": self.profile,
            "partner": self.partner,
        }


@dataclass
class Finding:
    """What one property says about one output."""

    property: str
    verdict: str
    max_ulp: float | None = None
    worst_index: list[int] | None = None
    message: str = ""
    budget_ulp: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Result:
    """One JSON line: identity, inputs, reproduction and context."""

    impl: str
    family: str
    function: str
    property: str
    dtype: str
    regime: str
    verdict: str
    max_ulp: float | None = None
    budget_ulp: float | None = None
    message: str = ""
    worst_index: list[int] | None = None
    case_id: str = ""
    case: dict | None = None
    output: dict | None = None
    expected: dict | None = None
    reproducer: str = ""
    hypothesis: dict | None = None
    device: str = "cpu"
    env: dict = field(default_factory=dict)
    duration: float = 0.0
    stats: dict = field(default_factory=dict)
    known: str | None = None
    schema: int = SCHEMA_VERSION
    time: float = field(default_factory=time.time)

    REQUIRED = ("impl", "function", "property", "dtype", "regime", "verdict", "schema")

    def to_json(self) -> dict:
        return asdict(self)

    def dumps(self) -> str:
        # A non-finite float that reached stats or the message fields would
        # make the line unwritable and lose the result: map it to None.
        return json.dumps(_finite_tree(self.to_json()), allow_nan=False, default=_json_default,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, d: dict) -> Result:
        missing = [k for k in cls.REQUIRED if k not in d]
        if missing:
            raise ValueError(f"missing field(s) {', '.join(missing)}")
        if d["schema"] != SCHEMA_VERSION:
            raise ValueError(f"schema {d['schema']!r} is not {SCHEMA_VERSION}")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def _finite_tree(o):
    if isinstance(o, dict):
        return {k: _finite_tree(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite_tree(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return finite_or_none(float(o))
    return o


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def is_soft(labels: np.ndarray) -> bool:
    """Probability targets (any float dtype, bfloat16 included) rather than class indices."""
    return np.asarray(labels).dtype.kind not in "iub"


def finite_or_none(v: float | None) -> float | None:
    """JSON has no inf/NaN: map them to None (the verdict carries the meaning)."""
    if v is None:
        return None
    v = float(v)
    return v if np.isfinite(v) else None
