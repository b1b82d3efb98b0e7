"""Value regimes and whole cases.

Every regime is a named strategy so reports can group by it.  Values are
drawn as float64 (exactly representable in the target via ``st.floats``'
``width`` where possible) and rounded once with ``dtype_helpers.cast``;
bfloat16 is drawn as float32 and rounded with ml_dtypes.  Nothing filters:
shapes, masks, labels and sparse patterns are all built constructively.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ..records import Case
from .dtype_helpers import cast, float_width, fmt, log_max, log_min_subnormal
from .shape_helpers import LONG, shape_and_axis

REGIMES = (
    "ordinary",
    "tiny-spread",
    "ties",
    "huge-spread",
    "near-overflow",
    "underflow",
    "subnormal",
    "hetero-rows",
    "sorted",
    "neg-inf",
    "nan-inf",
    "long-row",
)
SPECIAL_REGIMES = ("neg-inf", "nan-inf")
SHORT_LONG_MAX = 4097  # longest row of the long-row regime without --long-rows


def _floats(lo: float, hi: float, dtype: str) -> st.SearchStrategy[float]:
    w = float_width(dtype)
    f = fmt(dtype) if w != 32 else fmt("float32")
    lo, hi = max(lo, -f.max_finite), min(hi, f.max_finite)
    wt = {16: np.float16, 32: np.float32, 64: np.float64}[w]
    lo_r, hi_r = wt(lo), wt(hi)  # bounds must be exact in the drawing width: round inwards
    if float(lo_r) < lo:
        lo_r = np.nextafter(lo_r, wt(np.inf))
    if float(hi_r) > hi:
        hi_r = np.nextafter(hi_r, wt(-np.inf))
    return st.floats(float(lo_r), float(hi_r), width=w, allow_nan=False, allow_infinity=False)


DENSE_ABOVE = 64  # elements; smaller arrays are drawn element by element (fully shrinkable)


def _array(draw, shape, elements, dtype: str, span: tuple[float, float] | None = None) -> np.ndarray:
    """float64 array of ``elements``.

    Small arrays: every element drawn.  Larger ones: ``fill`` keeps them cheap
    (hypothesis.extra.numpy), but a filled array is one value with a few
    exceptions, and a near-constant long row hides summation, blocking and
    vectorised-tail bugs.  So with a ``span`` the default (and the shrink
    target) is dense: uniform values from a drawn seed, which Hypothesis then
    overwrites in a few places with its own draws."""
    size = int(np.prod(shape)) if shape else 1
    if size <= DENSE_ABOVE:
        return draw(hnp.arrays(np.float64, shape, elements=elements, fill=st.nothing()))
    if span is None or draw(st.booleans()):  # the filled form stays reachable
        return draw(hnp.arrays(np.float64, shape, elements=elements, fill=elements))
    mid, half = span[0] / 2 + span[1] / 2, span[1] / 2 - span[0] / 2  # no overflow at +-max finite
    dense = mid + half * _rng(draw).uniform(-1.0, 1.0, shape)
    overlay = draw(hnp.arrays(np.float64, shape, elements=elements, fill=st.just(math.nan)))
    return np.where(np.isnan(overlay), dense, overlay)


def _ranged(draw, shape, lo: float, hi: float, dtype: str) -> np.ndarray:
    """_array of floats in [lo, hi], dense over the same span."""
    return _array(draw, shape, _floats(lo, hi, dtype), dtype, (lo, hi))


def _rng(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


MASK_PATTERNS = ("padding", "scattered", "causal")


def bools(draw, shape, axis: int = -1) -> np.ndarray:
    """Booleans (True = hit).  Up to DENSE_ABOVE elements, drawn one by one.
    Above, a pattern along ``axis``, as masks come in practice: padding (a
    suffix of each slice, of its own length), scattered (a drawn density) or
    causal (slice i hit past position i + offset).  Contiguous runs matter:
    a kernel that reduces in tiles meets a tile with nothing left in it."""
    size = int(np.prod(shape)) if shape else 1
    if size <= DENSE_ABOVE or not shape:
        return draw(hnp.arrays(np.bool_, shape, elements=st.booleans(), fill=st.nothing()))
    pattern = draw(st.sampled_from(MASK_PATTERNS))
    rng = _rng(draw)
    out = np.zeros(shape, dtype=bool)
    mv = np.moveaxis(out, axis, -1)
    n = mv.shape[-1]
    pos = np.arange(n)
    if pattern == "padding":
        keep = rng.integers(0, n + 1, mv.shape[:-1])
        mv[...] = pos >= keep[..., None]
    elif pattern == "scattered":
        p = draw(st.sampled_from([0.3, 0.05, 0.7, 0.0, 1.0]))
        mv[...] = rng.random(mv.shape) < p
    else:
        rows = np.arange(int(np.prod(mv.shape[:-1]))).reshape(mv.shape[:-1]) % max(n, 1)
        mv[...] = pos > rows[..., None] + draw(st.integers(0, 3))
    return out


def _moved(x: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(x, axis, -1)


@st.composite
def regime_values(draw, regime: str, shape: tuple, axis: int, dtype: str) -> np.ndarray:
    f = fmt(dtype)
    lm, lsub = log_max(dtype), log_min_subnormal(dtype)
    if regime == "ordinary":
        scale = draw(st.sampled_from([1.0, 4.0, 20.0]))
        return _ranged(draw, shape, -scale, scale, dtype)
    if regime == "tiny-spread":
        base = draw(_floats(-1e3, 1e3, dtype))
        steps = (draw(hnp.arrays(np.int64, shape, elements=st.integers(-3, 3), fill=st.nothing()))
                 if int(np.prod(shape)) <= DENSE_ABOVE else _rng(draw).integers(-3, 4, shape))
        b = cast(np.full(shape, base), dtype).astype(np.float64)
        return b + steps * np.spacing(cast(np.abs(b) + f.min_normal, dtype)).astype(np.float64)
    if regime == "ties":
        vals = draw(st.lists(_floats(-f.max_finite / 2, f.max_finite / 2, dtype), min_size=1, max_size=2))
        return _array(draw, shape, st.sampled_from(vals), dtype)
    if regime == "huge-spread":
        el = st.one_of(_floats(-f.max_finite, f.max_finite, dtype), st.sampled_from([f.max_finite, -f.max_finite, 0.0]))
        return _array(draw, shape, el, dtype, (-f.max_finite, f.max_finite))
    if regime == "near-overflow":
        el = st.one_of(_floats(lm - 3, lm + 3, dtype), _floats(lm, f.max_finite, dtype))
        return _array(draw, shape, el, dtype, (lm - 3, lm + 3))
    if regime == "underflow":
        # One maximum per slice; the rest sit where exp(x - max) is subnormal or 0.
        x = _ranged(draw, shape, lsub - 8, lsub + 12, dtype)
        offset = draw(_floats(-lm, lm, dtype))
        if x.size:
            mv = _moved(x, axis)
            mv[..., draw(st.integers(0, mv.shape[-1] - 1))] = 0.0
        return x + cast(np.array(offset), dtype).astype(np.float64)
    if regime == "subnormal":
        el = st.one_of(st.floats(-f.min_normal, f.min_normal, width=float_width(dtype), allow_subnormal=True),
                       st.just(0.0))
        return _array(draw, shape, el, dtype, (-f.min_normal, f.min_normal))
    if regime == "hetero-rows":
        # Each slice shifted by its own large offset: a global max or a global
        # sum underflows whole slices.
        x = _ranged(draw, shape, -5, 5, dtype)
        r = min(f.max_finite / 4, 50 * abs(lsub))
        mv = _moved(x, axis)
        offs = draw(hnp.arrays(np.float64, mv.shape[:-1], elements=_floats(-r, r, dtype)))
        mv += offs[..., None]
        return x
    if regime == "sorted":
        x = _ranged(draw, shape, -60, 60, dtype)
        mv = _moved(x, axis)
        mv.sort(axis=-1)
        if draw(st.booleans()):
            mv[...] = mv[..., ::-1].copy()
        return x
    if regime in ("neg-inf", "nan-inf"):
        x = _ranged(draw, shape, -10, 10, dtype)
        specials = [-math.inf] if regime == "neg-inf" else [math.nan, math.inf, -math.inf]
        hit = bools(draw, shape, axis)
        kinds = draw(hnp.arrays(np.float64, shape, elements=st.sampled_from(specials)))
        x = np.where(hit, kinds, x)
        if x.size and x.ndim and draw(st.booleans()):
            mv = _moved(x, axis)
            mv.reshape(-1, mv.shape[-1])[0] = -math.inf  # a whole slice of -inf
        return x
    if regime == "long-row":
        return _ranged(draw, shape, -30, 30, dtype)
    raise ValueError(f"unknown regime {regime!r}")


# Which regimes make sense for which function.
_ROW = REGIMES
_FOR = {
    "sigmoid": ("ordinary", "huge-spread", "near-overflow", "underflow", "subnormal", "nan-inf", "neg-inf", "sorted"),
    "softmax_jacobian": ("ordinary", "tiny-spread", "ties", "huge-spread", "near-overflow", "underflow",
                         "hetero-rows", "sorted", "neg-inf"),
}


def regimes_for(function: str, long_row: bool = True, specials: bool = True) -> tuple[str, ...]:
    """Regimes for ``function``.  long-row stays last: the search stops at the
    first failing regime, so it adds cases without moving the others' draws."""
    rs = _FOR.get(function, _ROW)
    if not long_row:
        rs = tuple(r for r in rs if r != "long-row")
    if not specials:
        rs = tuple(r for r in rs if r not in SPECIAL_REGIMES)
    return rs


@st.composite
def cases(draw, function: str, dtype: str, *, regimes: tuple[str, ...] | None = None,
          ranks: tuple[int, ...] | None = None, last_axis_only: bool = False,
          long_rows: bool = False, max_elements: int = 2048) -> Case:
    """A whole Case for ``function`` in ``dtype``, with the extras it needs."""
    regimes = regimes or regimes_for(function)
    min_dims, max_dims = 1, 3
    if ranks:
        min_dims, max_dims = min(ranks), max(ranks)
    if max_dims < 2:
        regimes = tuple(r for r in regimes if r != "hetero-rows") or regimes
    regime = draw(st.sampled_from(regimes))
    if regime == "hetero-rows":
        min_dims = max(min_dims, 2)
        max_dims = max(max_dims, min_dims)
    if function == "softmax_jacobian":
        min_dims = max_dims = 2
        last_axis_only = True
    if function.startswith("sparse_"):
        min_dims = max_dims = 2
    max_len = 65 if function == "softmax_jacobian" else 257
    if regime == "long-row":
        # Without --long-rows, rows just past the 1024 that kernels switch
        # algorithms at (1023 ... 4097), one or two of them; with it, up to 2**17.
        lengths = LONG if long_rows else tuple(n for n in LONG if n <= SHORT_LONG_MAX)
        n = draw(st.sampled_from(lengths))
        batch = draw(st.sampled_from([1, 2, 64] if long_rows else [1, 2])) if max_dims >= 2 else 1
        shape = (n,) if min_dims == 1 and (batch == 1 or max_dims == 1) else (batch, n)
        axis = -1
    else:
        shape, axis = draw(shape_and_axis(min_dims, max_dims, max_len=max_len, last_axis=last_axis_only,
                                          allow_empty=False,  # empty axes: special_values property
                                          max_elements=max_elements,
                                          min_slices=2 if regime == "hetero-rows" else 1))
    if ranks and len(shape) not in ranks:  # constructive: ranks constrain min/max above
        shape = shape[-max(ranks):]
        axis = -1
    x = draw(regime_values(regime, shape, axis, dtype))
    case = Case(cast(x, dtype), axis, regime)
    draw_extras(draw, case, function, dtype)
    return case


def draw_extras(draw, case: Case, function: str, dtype: str) -> None:
    shape, ax = case.logits.shape, case.norm_axis
    n = case.row_length
    if function == "masked_softmax":
        kind = draw(st.sampled_from(["random", "all-masked-slice", "one-unmasked"]))
        keep = ~bools(draw, shape, ax)
        mv = np.moveaxis(keep, ax, -1)
        if kind == "all-masked-slice" and mv.size:
            mv.reshape(-1, n)[0] = False
        elif kind == "one-unmasked" and mv.size:
            mv[...] = False
            mv[..., draw(st.integers(0, n - 1))] = True
        case.mask = keep
        case.regime = f"{case.regime}+mask-{kind}"
    elif function == "cross_entropy":
        lead = shape[:ax] + shape[ax + 1:]
        kind = draw(st.sampled_from(["index", "probabilities", "one-hot"]))
        labels = draw(hnp.arrays(np.int64, lead, elements=st.integers(0, max(n - 1, 0))))
        if kind == "index":
            case.labels = labels
        else:
            if kind == "one-hot":
                t = np.moveaxis(np.eye(n)[labels], -1, ax)
            else:
                w = draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
                s = w.sum(axis=ax, keepdims=True)
                t = np.where(s > 0, w / np.where(s > 0, s, 1), 1.0 / n)
            case.labels = cast(t, dtype)
        case.regime = f"{case.regime}+labels-{kind}"
    elif function == "softmax_vjp":
        kind = draw(st.sampled_from(["ordinary", "constant", "one-hot", "large"]))
        if kind == "constant":
            g = np.full(shape, draw(_floats(-10, 10, dtype)))
        elif kind == "one-hot":
            g = np.zeros(shape)
            if g.size:
                np.moveaxis(g, ax, -1)[..., draw(st.integers(0, n - 1))] = 1.0
        else:
            r = 1e3 if kind == "large" else 10
            g = draw(hnp.arrays(np.float64, shape, elements=_floats(-r, r, dtype)))
        case.upstream = cast(g, dtype)
        case.regime = f"{case.regime}+grad-{kind}"
    elif function.startswith("sparse_"):
        case.axis = -1
        kind = draw(st.sampled_from(["random", "empty-rows", "single-entry", "explicit-zero-and-ninf"]))
        present = draw(hnp.arrays(np.bool_, shape, elements=st.booleans()))
        if kind == "empty-rows":
            present[::2] = False
        elif kind == "single-entry":
            present[...] = False
            present[draw(st.integers(0, shape[0] - 1)), draw(st.integers(0, shape[1] - 1))] = True
        x = case.logits.copy()
        if kind == "explicit-zero-and-ninf":
            special = draw(hnp.arrays(np.int8, shape, elements=st.integers(0, 2)))
            x = np.where(present & (special == 1), 0, x).astype(x.dtype)
            x = np.where(present & (special == 2), -np.inf, x).astype(x.dtype)
        case.logits = x
        case.indices = np.argwhere(present).astype(np.int64)
        case.regime = f"{case.regime}+sparse-{kind}"
