"""Value regimes and whole cases.

Every regime is a named strategy so reports can group by it.  Values are
drawn as float64 (exactly representable in the target via ``st.floats``'
``width`` where possible) and rounded once with ``dtype_helpers.cast``;
bfloat16 is drawn as float32 and rounded with ml_dtypes.  Nothing filters:
shapes, masks, labels and sparse patterns are all built constructively.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..arrays import apply_layout, layout_name
from ..records import Case
from . import reuse as st  # hypothesis.strategies, one object per arguments (reuse.py)
from .dtype_helpers import DTYPES, cast, float_width, fmt, log_max, log_min_subnormal
from .shape_helpers import (
    LONG,
    LONG_MAX,
    SHORT_MAX,
    WHOLE_MAX,
    array_of,
    bools,
    layouts,
    moved,
    place_specials,
    row_lengths,
    shape_and_axis,
    small_or,
)

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
    "uniform",
    "long-row",
)
SPECIAL_REGIMES = ("neg-inf", "nan-inf")
SHORT_LONG_MAX = SHORT_MAX  # longest row without --long-rows (every regime)
HALF_SUM_OVERFLOW = 65505  # rows past 65504 ones: a float16 sum of exponentials overflows
STRIDE = 15  # coprime with the 52 (regime, dtype) runs: neighbouring strata differ in regime and dtype
CHEAP_FUNCTIONS = ("softmax", "logsumexp", "sigmoid")  # oracles.fast decides their finite slices in float64
MPMATH_MAX = 257  # strata of functions the mpmath oracle judges throughout (~60 us an element)
BATCH = {True: 1024, False: 512}  # most elements around the rows of a cheap / mpmath-judged run


def cheap(function: str, regime: str, dtype: str) -> bool:
    """Judged by the float64 fast path (oracles.fast), so long rows cost little:
    not float64 targets, nor slices holding NaN or +-inf."""
    return function in CHEAP_FUNCTIONS and dtype != "float64" and regime not in SPECIAL_REGIMES


@functools.cache
def stream(function: str, regime: str, dtype: str, max_len: int) -> tuple[tuple[int, int], int]:
    """(stratum, salt) of one (regime, dtype) run, which explore searches
    separately with the same seed for every property.

    The runs' strata partition 1..min(max_len, SHORT_MAX) into equal parts,
    in an order that puts other regimes and dtypes side by side; runs the
    mpmath oracle judges take the shortest (their long-row ones the shortest
    past 1023), the long-row regime otherwise among the longest.
    A function judged by mpmath throughout stratifies 1..MPMATH_MAX only, and
    its long-row regime splits 1023.. between the dtypes (uniform draws still
    reach every length in every run).  ``salt`` rotates the other choices of
    a run's first example."""
    r, d = REGIMES.index(regime), DTYPES.index(dtype)
    salt = r + d
    top = min(max_len, SHORT_MAX)
    runs = sorted(((rr, dd) for rr in range(len(REGIMES)) for dd in range(len(DTYPES))),
                  key=lambda run: (run[0] * len(DTYPES) + run[1]) * STRIDE % (len(REGIMES) * len(DTYPES)))
    # Shortest first: mpmath-judged runs, then mpmath-judged long rows (past 1023 all the same), then the rest.
    classes = [2 if cheap(function, REGIMES[rr], DTYPES[dd]) else int(REGIMES[rr] == "long-row") for rr, dd in runs]
    if not any(cheap(function, REGIMES[rr], DTYPES[dd]) for rr, dd in runs):
        if regime == "long-row":
            return _part(1023, top, d, len(DTYPES)), salt
        runs = [run for run in runs if REGIMES[run[0]] != "long-row"]
        classes = [0] * len(runs)
        top = min(top, MPMATH_MAX)
    runs = [run for _, run in sorted(zip(classes, runs), key=lambda cr: cr[0])]  # stable sort
    return _part(1, top, runs.index((r, d)), len(runs)), salt


def _part(lo: int, hi: int, i: int, parts: int) -> tuple[int, int]:
    size = hi - lo + 1
    return lo + i * size // parts, max(lo + i * size // parts, lo + (i + 1) * size // parts - 1)


@st.reused  # bounds rounded once per (lo, hi, dtype)
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


def _ranged(draw, shape, lo: float, hi: float, dtype: str) -> np.ndarray:
    """array_of floats in [lo, hi], dense over the same span."""
    return array_of(draw, shape, _floats(lo, hi, dtype), dtype, (lo, hi))


@st.composite
def regime_values(draw, regime: str, shape: tuple, axis: int, dtype: str, salt: int = 0) -> np.ndarray:
    f = fmt(dtype)
    lm, lsub = log_max(dtype), log_min_subnormal(dtype)
    if regime == "ordinary":
        scale = draw(st.sampled_from([1.0, 4.0, 20.0]))
        return _ranged(draw, shape, -scale, scale, dtype)
    if regime == "tiny-spread":
        base = draw(_floats(-1e3, 1e3, dtype))
        steps = small_or(draw, shape, np.int64, st.integers(-3, 3), lambda rng: rng.integers(-3, 4, shape))
        b = cast(np.full(shape, base), dtype).astype(np.float64)
        return b + steps * np.spacing(cast(np.abs(b) + f.min_normal, dtype)).astype(np.float64)
    if regime == "ties":
        vals = draw(st.lists(_floats(-f.max_finite / 2, f.max_finite / 2, dtype), min_size=1, max_size=2))
        return array_of(draw, shape, st.sampled_from(vals), dtype)
    if regime == "huge-spread":
        el = st.one_of(_floats(-f.max_finite, f.max_finite, dtype), st.sampled_from([f.max_finite, -f.max_finite, 0.0]))
        return array_of(draw, shape, el, dtype, (-f.max_finite, f.max_finite))
    if regime == "near-overflow":
        el = st.one_of(_floats(lm - 3, lm + 3, dtype), _floats(lm, f.max_finite, dtype))
        return array_of(draw, shape, el, dtype, (lm - 3, lm + 3))
    if regime == "underflow":
        # One maximum per slice; the rest sit where exp(x - max) is subnormal or 0.
        x = _ranged(draw, shape, lsub - 8, lsub + 12, dtype)
        offset = draw(_floats(-lm, lm, dtype))
        if x.size:
            mv = moved(x, axis)
            mv[..., draw(st.integers(0, mv.shape[-1] - 1))] = 0.0
        return x + cast(np.array(offset), dtype).astype(np.float64)
    if regime == "subnormal":
        el = st.one_of(st.floats(-f.min_normal, f.min_normal, width=float_width(dtype), allow_subnormal=True),
                       st.just(0.0))
        return array_of(draw, shape, el, dtype, (-f.min_normal, f.min_normal))
    if regime == "hetero-rows":
        # Each slice shifted by its own large offset: a global max or a global
        # sum underflows whole slices.
        x = _ranged(draw, shape, -5, 5, dtype)
        r = min(f.max_finite / 4, 50 * abs(lsub))
        mv = moved(x, axis)
        offs = draw(st.arrays(np.float64, mv.shape[:-1], elements=_floats(-r, r, dtype)))
        mv += offs[..., None]
        return x
    if regime == "sorted":
        x = _ranged(draw, shape, -60, 60, dtype)
        mv = moved(x, axis)
        mv.sort(axis=-1)
        if draw(st.booleans()):
            mv[...] = mv[..., ::-1].copy()
        return x
    if regime in ("neg-inf", "nan-inf"):
        x = _ranged(draw, shape, -10, 10, dtype)
        specials = [-math.inf] if regime == "neg-inf" else [math.nan, math.inf, -math.inf]
        # -inf: a random pattern (tiles and suffixes of -inf) and chosen positions;
        # NaN and +inf: chosen positions, or else a pattern, so that a row can hold one NaN only.
        if place_specials(draw, x, axis, draw(st.sampled_from(specials)), salt) == "mask" or regime == "neg-inf":
            hit = bools(draw, shape, axis)
            kinds = small_or(draw, shape, np.float64, st.sampled_from(specials),
                              lambda rng: rng.choice(specials, shape))
            x = np.where(hit, kinds, x)
        if x.size and x.ndim and draw(st.booleans()):
            mv = moved(x, axis)
            mv.reshape(-1, mv.shape[-1])[0] = -math.inf  # a whole slice of -inf
        return x
    if regime == "uniform":
        # Equal logits: a low-precision running sum of n equal exponentials
        # stalls soonest (float16 at 2048 terms, bfloat16 at 256) and, past
        # 65504 of them, overflows float16.  Each slice may have its own value.
        v = draw(st.one_of(st.sampled_from([0.0, 1.0, -1.0]), _floats(-f.max_finite / 2, f.max_finite / 2, dtype)))
        x = np.full(shape, v)
        if x.ndim > 1 and x.size and draw(st.booleans()):
            mv = moved(x, axis)
            mv += draw(st.arrays(np.float64, mv.shape[:-1], elements=_floats(-100, 100, dtype)))[..., None]
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
    """A whole Case for ``function`` in ``dtype``, with the extras it needs and
    a memory layout.  Rows run up to SHORT_MAX (LONG_MAX with ``long_rows``);
    ``max_elements`` bounds the batch around them (see shape_and_axis)."""
    regimes = regimes or regimes_for(function)
    min_dims, max_dims = 1, 4
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
    if function.startswith("sparse_"):  # slices along the last axis (draw_extras)
        min_dims = max_dims = 2
        last_axis_only = True
    # Jacobians are k x k per row; sigmoid has no rows, only SIMD tails; past
    # SHORT_MAX, only runs judged by the fast path and the long-row regime.
    long_ok = long_rows and (regime == "long-row" or cheap(function, regime, dtype))
    max_len = {"softmax_jacobian": 65, "sigmoid": 257}.get(function, LONG_MAX if long_ok else SHORT_MAX)
    strat, salt = stream(function, regime, dtype, max_len)
    if regime == "long-row":
        # Rows past the 1024 that kernels switch algorithms at, one or two of
        # them; with --long-rows, up to 2**17 (half the time a LONG edge), 64 of them.
        lengths = row_lengths(max_len, stratum=strat, min_len=1023, salt=salt)
        n = draw(st.one_of(lengths, st.sampled_from([m for m in LONG if m <= max_len])) if long_rows else lengths)
        batch = draw(st.sampled_from([1, 2, 64] if long_rows else [1, 2])) if max_dims >= 2 else 1
        shape = (n,) if min_dims == 1 and (batch == 1 or max_dims == 1) else (batch, n)
        axis = -1
    else:
        # Past 65504 equal terms a float16 sum overflows: --long-rows reaches it (float16 only: cost).
        past = regime == "uniform" and long_rows and dtype == "float16" and draw(st.booleans())
        fast = cheap(function, regime, dtype)
        batch = min(max_elements, BATCH[fast])  # mpmath-judged runs: fewer slices; --long-rows: not 2**23
        shape, axis = draw(shape_and_axis(min_dims, max_dims, max_len=max_len, last_axis=last_axis_only,
                                          allow_empty=False,  # empty axes: special_values property
                                          max_elements=batch, min_slices=2 if regime == "hetero-rows" else 1,
                                          stratum=strat, salt=salt, min_len=HALF_SUM_OVERFLOW if past else 1,
                                          block_edges=fast, strided_max=WHOLE_MAX if fast else batch))
    if ranks and len(shape) not in ranks:  # constructive: ranks constrain min/max above
        shape = shape[-max(ranks):]
        axis = -1
    x = draw(regime_values(regime, shape, axis, dtype, salt))
    case = Case(cast(x, dtype), axis, regime)
    draw_extras(draw, case, function, dtype)
    layout = draw(layouts(case.logits.ndim, salt))
    if layout is not None:
        case.logits, case.layout = apply_layout(case.logits, layout), layout
        case.regime = f"{case.regime}+layout-{layout_name(layout)}"
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
        labels = small_or(draw, lead, np.int64, st.integers(0, max(n - 1, 0)), lambda rng: rng.integers(0, n, lead))
        if kind == "index":
            case.labels = labels
        else:
            if kind == "one-hot":  # not np.eye(n)[labels]: n x n floats for a 4097-long row
                t = np.zeros(lead + (n,))
                np.put_along_axis(t, labels[..., None], 1.0, axis=-1)
                t = np.moveaxis(t, -1, ax)
            else:
                w = array_of(draw, shape, st.floats(0, 1), dtype, (0.0, 1.0))
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
            g = array_of(draw, shape, _floats(-r, r, dtype), dtype, (-r, r))
        case.upstream = cast(g, dtype)
        case.regime = f"{case.regime}+grad-{kind}"
    elif function.startswith("sparse_"):
        case.axis = -1
        kind = draw(st.sampled_from(["random", "empty-rows", "single-entry", "explicit-zero-and-ninf"]))
        present = small_or(draw, shape, np.bool_, st.booleans(), lambda rng: rng.random(shape) < rng.random())
        if kind == "empty-rows":
            present[::2] = False
        elif kind == "single-entry":
            present[...] = False
            present[draw(st.integers(0, shape[0] - 1)), draw(st.integers(0, shape[1] - 1))] = True
        x = case.logits.copy()
        if kind == "explicit-zero-and-ninf":
            special = small_or(draw, shape, np.int8, st.integers(0, 2), lambda rng: rng.integers(0, 3, shape))
            x = np.where(present & (special == 1), 0, x).astype(x.dtype)
            x = np.where(present & (special == 2), -np.inf, x).astype(x.dtype)
        case.logits = x
        case.indices = np.argwhere(present).astype(np.int64)
        case.regime = f"{case.regime}+sparse-{kind}"
