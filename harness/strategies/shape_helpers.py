"""Shapes and axes, built constructively (never filtered).

Row lengths favour the sizes where kernels break: 0, 1, powers of two and
their neighbours (block tails: 63, 65, 127, 1025 ...), and square matrices,
where broadcasting the wrong axis still gives the right shape.
"""

from __future__ import annotations

from hypothesis import strategies as st

BLOCK_EDGES = (2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257)
LONG = (1023, 1024, 1025, 4095, 4097, 16385, 65537, 131072)


def row_lengths(max_len: int = 257, allow_empty: bool = False) -> st.SearchStrategy[int]:
    # Larger sizes first: they are where block and summation bugs live, and a
    # short ci budget must still reach past one block.
    edges = sorted((n for n in BLOCK_EDGES if n <= max_len), reverse=True)
    small = st.integers(1, min(12, max_len))
    choices = [st.sampled_from(edges), small] if edges else [small]
    if allow_empty:
        choices.append(st.just(0))
    return st.one_of(*choices)


@st.composite
def shape_and_axis(draw, min_dims: int = 1, max_dims: int = 4, max_len: int = 257, batch_max: int = 6,
                   allow_empty: bool = False, last_axis: bool = False, square: bool | None = None,
                   max_elements: int = 4096, min_slices: int = 1):
    """A shape with one reduction axis of interesting length; other dims small.
    ``min_slices`` > 1 makes the first batch dimension at least that long
    (hetero rows need two slices to tell a per-slice max from a global one).

    Returns (shape, axis) with axis drawn positive or negative."""
    ndim = draw(st.integers(max(min_dims, 2 if min_slices > 1 else 1), max(max_dims, 2 if min_slices > 1 else 1)))
    n = draw(row_lengths(max_len, allow_empty))
    budget = max(min_slices, max_elements // max(n, 1))
    dims = []
    for k in range(ndim - 1):
        lo = min_slices if k == 0 else 1
        b = draw(st.integers(lo, max(lo, min(batch_max, budget))))
        budget = max(1, budget // b)
        dims.append(b)
    pos = ndim - 1 if last_axis else draw(st.integers(0, ndim - 1))
    shape = dims[:pos] + [n] + dims[pos:]
    make_square = draw(st.booleans()) if square is None else square
    if make_square and ndim == 2 and n * n <= max_elements and n > 0:
        shape = [n, n]  # a square matrix: axis-0 and axis-1 results have the same shape
    axis = pos - ndim if draw(st.booleans()) else pos
    return tuple(shape), axis
