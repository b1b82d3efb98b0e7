"""Row lengths, shapes, axes, memory layouts, and where values go in an array
(large-array fills, masks, special positions), built constructively (never filtered).

Every row length from 1 to ``max_len`` can be drawn, from a mix of:

- stratified (4 draws in 5): each (regime, dtype) run owns one stratum of
  1..4097 (hypothesis_helpers.stream) and draws inside it; its first example
  (Hypothesis's all-simplest draw) is the stratum's first length.  A default
  ``check`` makes 3 draws per run, the same for every property, and with one
  seed every run makes the same raw choices: independent draws would leave
  whole bands of lengths out, strata spread them (the first examples alone
  come within 86 of every length);
- uniform over 1..4097, log-uniform up to max_len (short rows as often as
  long), edges (powers of two and multiples of 32, each +-1: block tails),
  short rows (1 or 2: length 1 breaks batched paths), 1 in 20 each.

Hypothesis's integers are uniform only within +-256, so longer ranges are
drawn digit by digit (``uniform_ints``), which also shrinks towards ``lo``.
"""

from __future__ import annotations

import math

import numpy as np

from ..arrays import layout_name
from . import reuse as st  # hypothesis.strategies, one object per arguments (reuse.py)

SHORT_MAX = 4097  # longest row of every regime without --long-rows
LONG_MAX = 1 << 17  # with --long-rows
LONG = (1023, 1024, 1025, 2047, 2049, 4095, 4096, 4097, 16385, 65505, 65537, 131072)
KINDS = ("stratum",) * 16 + ("uniform", "log-uniform", "edge", "short")  # weights by repetition
WHOLE_MAX = 4096  # elements check sends with each call (harness.isolation.TICK_CASE_LIMIT): a crash keeps its input
DIGIT = 256  # Hypothesis's integer draws are uniform on ranges this wide


def uniform_ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers uniform on [lo, hi] (near enough: the top digit may be short)."""
    return st.integers(lo, hi) if hi - lo < DIGIT else _digits(lo, hi)


@st.composite
def _digits(draw, lo: int, hi: int) -> int:  # one composite for all ranges: defining one costs a compile
    top = draw(uniform_ints(0, (hi - lo) // DIGIT))
    return lo + top * DIGIT + draw(st.integers(0, min(DIGIT - 1, hi - lo - top * DIGIT)))


def power_edges(max_len: int) -> tuple[int, ...]:
    """1, and powers of two +-1."""
    out = {1} | {n for k in range(max_len.bit_length()) for n in ((1 << k) - 1, 1 << k, (1 << k) + 1)}
    return tuple(sorted(n for n in out if 1 <= n <= max_len))


def _block_edges(max_len: int) -> tuple[int, ...]:
    """Multiples of 32 (of 1024 past SHORT_MAX), +-1."""
    ms = list(range(32, min(max_len, SHORT_MAX) + 2, 32)) + list(range(5120, max_len + 2, 1024))
    return tuple(sorted({n for m in ms for n in (m - 1, m, m + 1) if n <= max_len}))


@st.composite
def row_lengths(draw, max_len: int = SHORT_MAX, allow_empty: bool = False, stratum: tuple[int, int] | None = None,
                min_len: int = 1, block_edges: bool = True, salt: int = 0) -> int:
    """A row length in [min_len, max_len] (see the module docstring); the
    stratum defaults to the whole range.  Uniform draws and block edges stay
    within SHORT_MAX: longer rows (--long-rows) come from the log-uniform
    draw, powers of two and the long-row regime, which keeps their cost in
    bounds.  ``block_edges`` False: multiples of 32 only through the other draws.

    With one seed every run makes the same raw choices, so ``salt`` (one per
    run) rotates the kind: the runs' first examples all take their stratum,
    the others spread over the kinds instead of all taking the same one."""
    if allow_empty and draw(st.integers(0, 15)) == 15:
        return 0
    raw = draw(st.integers(0, len(KINDS) - 1))
    kind = KINDS[raw and 1 + (raw - 1 + salt) % (len(KINDS) - 1)]
    top = min(max_len, max(SHORT_MAX, min_len))
    if kind == "stratum":
        lo, hi = stratum or (min_len, top)
        return draw(uniform_ints(max(lo, min_len), max(min(hi, max_len), min_len)))
    if kind == "uniform":
        return draw(uniform_ints(min_len, top))
    if kind == "log-uniform":
        k = draw(st.integers(max(0, min_len.bit_length() - 1), max_len.bit_length() - 1))
        return draw(uniform_ints(max(min_len, 1 << k), min(max_len, (2 << k) - 1)))
    if kind == "edge":
        blocks = block_edges and draw(st.booleans())
        es = [n for n in (_block_edges(max_len) if blocks else power_edges(max_len)) if n >= min_len]
        if es:
            return draw(st.sampled_from(es))
    return max(min_len, min(max_len, draw(st.integers(1, 2))))


@st.composite
def shape_and_axis(draw, min_dims: int = 1, max_dims: int = 4, max_len: int = SHORT_MAX, batch_max: int = 6,
                   allow_empty: bool = False, last_axis: bool = False, square: bool | None = None,
                   max_elements: int = 2048, min_slices: int = 1, stratum: tuple[int, int] | None = None,
                   salt: int = 0, min_len: int = 1, block_edges: bool = True, strided_max: int = WHOLE_MAX):
    """A shape with one reduction axis of interesting length; other dims small.

    ``max_elements`` bounds the batch: a row longer than it comes alone, or as
    two slices where the axis is not the last (so that it is really strided;
    up to ``strided_max`` elements) or ``min_slices`` asks for more (hetero rows
    need two slices to tell a per-slice max from a global one).  ``stratum``, ``salt``: the run's
    stratum of lengths and rotation (hypothesis_helpers.stream).
    Returns (shape, axis), axis drawn positive or negative."""
    lo_dims = max(min_dims, 2 if min_slices > 1 else 1)
    span = max(max_dims, lo_dims) - lo_dims + 1
    ndim = lo_dims + (draw(st.integers(0, span - 1)) + salt + 1) % span  # first examples: 1-d to 4-d by salt
    n = draw(row_lengths(max_len, allow_empty, stratum, min_len, block_edges, salt))
    pos = ndim - 1 if last_axis else draw(st.integers(0, ndim - 1))
    # A non-last axis gets a trailing dim of 2 (so it is strided) up to strided_max elements.
    lead = 2 if pos < ndim - 1 and min_slices == 1 and 2 * n <= strided_max else 1
    budget = max(min_slices * lead, max_elements // max(n, 1))
    dims = []
    for k in range(ndim - 1):
        lo = min_slices if k == 0 else 1
        lo = max(lo, lead if k == pos else 1)  # dims[pos] is the first one after the axis
        b = draw(st.integers(lo, max(lo, min(batch_max, budget))))
        budget = max(1, budget // b)
        dims.append(b)
    shape = dims[:pos] + [n] + dims[pos:]
    make_square = draw(st.integers(0, 3)) == 3 if square is None else square
    if make_square and ndim == 2 and n > 1 and max_elements >= 4:
        # A square matrix (axis-0 and axis-1 results have the same shape), within the batch budget.
        n = min(n, math.isqrt(max_elements))
        shape = [n, n]
    axis = pos - ndim if draw(st.booleans()) else pos
    return tuple(shape), axis


LAYOUTS = ("contiguous", "transposed", "strided", "reversed", "transposed+strided", "contiguous")  # 1/3 C order


@st.composite
def layouts(draw, ndim: int, salt: int = 0):
    """A memory layout for an array of ``ndim`` dims: None (C order) or
    (order, step) for ``arrays.apply_layout``: the buffer's axes in memory
    order, and a step per logical axis (2 or 3 leaves gaps, -1 runs backwards).
    ``salt`` rotates the choice, so that the first examples of different runs
    get different layouts."""
    kind = LAYOUTS[(draw(st.integers(0, len(LAYOUTS) - 1)) + salt) % len(LAYOUTS)]
    if kind == "contiguous" or ndim == 0:
        return None
    order = list(range(ndim))
    step = [1] * ndim
    if "transposed" in kind and ndim > 1:
        order = list(draw(st.permutations(range(ndim))))
        if order == sorted(order):
            order.reverse()  # at least x.T's layout (Fortran order)
    if kind in ("strided", "reversed", "transposed+strided") or ndim == 1:
        ax = draw(st.integers(0, ndim - 1))
        step[ax] = draw(st.sampled_from([2, -1, 3, -2])) if kind != "reversed" else -1
    layout = (tuple(order), tuple(step))
    return layout if layout_name(layout) != "contiguous" else None


DENSE_ABOVE = 64  # elements; smaller arrays are drawn element by element (fully shrinkable)
OVERRIDES = 8  # most values Hypothesis draws into a larger array


def array_of(draw, shape, elements, dtype: str, span: tuple[float, float] | None = None) -> np.ndarray:
    """float64 array of ``elements``.

    Small arrays: every element drawn (fully shrinkable).  Larger ones: one
    drawn value everywhere, or (with a ``span``, the default and the shrink
    target) dense uniform values from a drawn seed, since a near-constant long
    row hides summation, blocking and vectorised-tail bugs; then up to
    OVERRIDES drawn values at drawn positions.  Drawing each element of a
    4097-long row would cost more than judging it."""
    size = int(np.prod(shape)) if shape else 1
    if size <= DENSE_ABOVE:
        return draw(st.arrays(np.float64, shape, elements=elements, fill=st.nothing()))
    if span is None or draw(st.booleans()):  # the filled form stays reachable
        x = np.full(size, draw(elements))
    else:
        mid, half = span[0] / 2 + span[1] / 2, span[1] / 2 - span[0] / 2  # no overflow at +-max finite
        x = mid + half * rng_from(draw).uniform(-1.0, 1.0, size)
    for _ in range(draw(st.integers(0, OVERRIDES))):
        x[draw(uniform_ints(0, size - 1))] = draw(elements)
    return x.reshape(shape)


def small_or(draw, shape, dtype, elements, rng_fill) -> np.ndarray:
    """Element by element up to DENSE_ABOVE, else ``rng_fill(rng)`` from a drawn seed."""
    if int(np.prod(shape)) <= DENSE_ABOVE:
        return draw(st.arrays(dtype, shape, elements=elements, fill=st.nothing()))
    return rng_fill(rng_from(draw))


def rng_from(draw) -> np.random.Generator:
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
        return draw(st.arrays(np.bool_, shape, elements=st.booleans(), fill=st.nothing()))
    pattern = draw(st.sampled_from(MASK_PATTERNS))
    rng = rng_from(draw)
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


def moved(x: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(x, axis, -1)


PLACES = ("last", "first", "inside", "several", "mask")


def place_specials(draw, x: np.ndarray, axis: int, value: float, salt: int) -> str:
    """Put ``value`` at chosen positions of one slice (or of every one): last,
    first, one inside, several (first, last and one more), or nowhere ("mask":
    the random pattern decides).  A kernel whose NaN or -inf handling depends
    on the position shows it only on some of these; the other slices stay
    finite, so the rest of the output is still judged."""
    place = PLACES[(draw(st.integers(0, len(PLACES) - 1)) + salt) % len(PLACES)]
    if place == "mask" or not x.size or not x.ndim:
        return place
    mv = moved(x, axis).reshape(-1, x.shape[axis])
    n = mv.shape[1]
    # One slice (counted from the last: the regime may make the first all -inf), or every one.
    rows = mv.shape[0] - 1 - draw(st.integers(0, mv.shape[0] - 1)) if not draw(st.booleans()) else slice(None)
    where = {"last": [n - 1], "first": [0], "inside": [draw(st.integers(0, n - 1))],
             "several": [0, n - 1, draw(st.integers(0, n - 1))]}[place]
    mv[rows, where] = value
    moved(x, axis)[...] = mv.reshape(moved(x, axis).shape)
    return place
