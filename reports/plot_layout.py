"""Layout of the inline SVG plots: data mapped to pixels, no markup.

The markup is drawn by the macros in ``templates/svg.html.j2`` under the
template's autoescape, so every string here (titles, dtypes, labels) is
escaped by Jinja like the rest of the page.

- :func:`scatter`: ULP error against |x_i - max| for one implementation, one
  colour per dtype, with the error budget drawn as a dashed step per dtype.
  Both axes are logarithmic (x as log10(1 + |x_i - max|), y as log10 ulp with
  a floor), since the budget grows with |x_i - max| and errors span decades.
- :func:`histogram`: the same samples binned by ulp error in powers of two,
  split into within-budget and over-budget counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DTYPE_COLOURS = {"float16": "#d95f02", "bfloat16": "#7570b3", "float32": "#1b9e77", "float64": "#386cb0"}
OTHER_COLOUR = "#666666"
Y_FLOOR = 1e-2  # errors below this (exact results) sit on the floor
X_DECADES = 5  # |x_i - max| axis ends at 1e5; larger distances sit on the right edge
BUDGET_BINS = 40  # x bands over which the budget is drawn as one step

Point = tuple[float, float, "float | None"]  # (|x - max|, ulp error, budget or None)


def px(v: float) -> str:
    """A pixel coordinate with at most one decimal (keeps the page small)."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _finite(*vs) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in vs)


def clean_points(points) -> list[Point]:
    """[(|x - max|, ulp error, budget or None)], dropping unusable entries."""
    out = []
    for p in points or []:
        if not isinstance(p, (list, tuple)) or len(p) < 2 or not _finite(p[0], p[1]):
            continue
        b = p[2] if len(p) > 2 and _finite(p[2]) else None
        out.append((abs(float(p[0])), max(float(p[1]), 0.0), b))
    return out


def _xmap(x: float) -> float:
    return math.log10(1.0 + x)


def _ymap(y: float) -> float:
    return math.log10(max(y, Y_FLOOR))


def _decades(lo: float, hi: float) -> list[int]:
    return list(range(math.floor(lo), math.ceil(hi) + 1))


def _tick_label(e: int, floor_label: bool = False) -> str:
    if floor_label:
        return "≤0.01"
    if -2 <= e <= 3:
        return f"{10.0 ** e:g}"
    return f"1e{e}"


@dataclass
class Frame:
    """The SVG box and the plot area inside its margins (pixels)."""

    title: str
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int


@dataclass
class GridLine:
    pos: float  # y of a horizontal line, x of a vertical one
    label: str


@dataclass
class Dot:
    cx: int
    cy: int
    over: bool  # over its budget: drawn as a red cross


@dataclass
class Step:
    """One dashed budget step over an x band."""

    x0: float
    x1: float
    y: float


@dataclass
class Series:
    dtype: str
    colour: str
    budget: list[Step]
    dots: list[Dot]


@dataclass
class LegendEntry:
    x: float
    dtype: str
    colour: str


@dataclass
class Scatter:
    frame: Frame
    y_grid: list[GridLine] = field(default_factory=list)
    x_grid: list[GridLine] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)


@dataclass
class Bar:
    """One histogram bin: within-budget count stacked under over-budget count."""

    x: float
    width: float
    label_x: float
    label: str
    show_label: bool
    within: int
    over: int
    within_y: float
    within_height: float
    over_y: float
    over_height: float

    @property
    def tip(self) -> str:
        return f"{self.label} ulp: {self.within} within budget, {self.over} over"


@dataclass
class Histogram:
    frame: Frame
    y_grid: list[GridLine] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)


def scatter(series: dict[str, list], title: str = "", width: int = 350, height: int = 222) -> Scatter:
    """``series``: dtype -> points [(|x - max|, ulp error, budget)].  The
    y axis spans the errors' own decades; a budget above them is drawn on the
    top edge.  The legend sits above the plot area, never over a point."""
    data = {k: clean_points(v) for k, v in series.items()}
    data = {k: v for k, v in data.items() if v}
    ml, mr, mt, mb = 44, 18, 30, 30
    pw, ph = width - ml - mr, height - mt - mb
    plot = Scatter(Frame(title, width, height, ml, mt, pw, ph))
    if not data:
        return plot
    xs = [_xmap(p[0]) for v in data.values() for p in v]
    ys = [_ymap(p[1]) for v in data.values() for p in v]
    x_hi = float(min(max(1, math.ceil(max(xs))), X_DECADES))  # beyond 1e5, exp underflows: clamp to the edge
    # the errors' own range (a huge budget would squash them): whole decades around them
    # and a few far outliers (ulp errors near 0 can reach 1e271) sit on the top edge, labelled "≥"
    y_lo = float(math.floor(min(ys)))
    q = sorted(ys)[int(0.98 * (len(ys) - 1))]
    y_hi = float(max(y_lo + 1, min(math.ceil(max(ys)), math.ceil(q) + 2)))
    clipped = max(ys) > y_hi

    def sx(x: float) -> float:
        return ml + pw * min(_xmap(x), x_hi) / x_hi

    def sy(y: float) -> float:  # clamped: a budget above the errors' range runs along the top edge
        return mt + ph * (1 - (min(max(_ymap(y), y_lo), y_hi) - y_lo) / (y_hi - y_lo))

    ystep = max(1, math.ceil((y_hi - y_lo) / 8))
    for dec in _decades(y_lo, y_hi)[::ystep]:  # decades; `e` below is an error in ulps
        label = ("≥" if clipped and dec == y_hi else "") + _tick_label(dec, dec == _ymap(Y_FLOOR))
        plot.y_grid.append(GridLine(mt + ph * (1 - (dec - y_lo) / (y_hi - y_lo)), label))
    for dec in range(0, int(x_hi) + 1, max(1, math.ceil(x_hi / 8))):
        label = "0" if dec == 0 else ("≥" if dec == X_DECADES and max(xs) > X_DECADES else "") + _tick_label(dec)
        plot.x_grid.append(GridLine(ml + pw * dec / x_hi, label))
    for k, pts in data.items():
        # budget: the largest budget among the samples of each x bin, drawn
        # over that bin only (no interpolation between bins)
        bins: dict[int, float] = {}
        for x, _, b in pts:
            if b is None:
                continue
            i = min(int(min(_xmap(x), x_hi) / x_hi * BUDGET_BINS), BUDGET_BINS - 1)
            bins[i] = max(b, bins.get(i, 0.0))
        steps = [Step(ml + pw * i / BUDGET_BINS, ml + pw * (i + 1) / BUDGET_BINS, sy(b))
                 for i, b in sorted(bins.items())]
        # points, deduplicated on the pixel grid
        seen = set()
        dots = []
        for x, e, b in pts:
            dot = Dot(round(sx(x)), round(sy(e)), b is not None and e > b)
            if (dot.cx, dot.cy, dot.over) not in seen:
                seen.add((dot.cx, dot.cy, dot.over))
                dots.append(dot)
        plot.series.append(Series(k, DTYPE_COLOURS.get(k, OTHER_COLOUR), steps, dots))
    lx: float = ml + 6
    for k in data:
        plot.legend.append(LegendEntry(lx, k, DTYPE_COLOURS.get(k, OTHER_COLOUR)))
        lx += 12 + 6.2 * len(k)  # room for the dtype name
    return plot


def _bin_of(e: float) -> int:
    """0: [0, 0.5], 1: (0.5, 1], 2: (1, 2], 3: (2, 4], ..."""
    if e <= 0.5:
        return 0
    return max(1, math.ceil(math.log2(e)) + 1)


def _bin_label(i: int) -> str:
    return "≤½" if i == 0 else ("≤1" if i == 1 else f"≤2^{i - 1}" if i > 4 else f"≤{2 ** (i - 1)}")


def histogram(series: dict[str, list], title: str = "", width: int = 280, height: int = 210) -> Histogram:
    """Counts of samples by ulp error in powers of two, within budget and over
    budget, all dtypes together."""
    pts = [p for v in series.values() for p in clean_points(v)]
    ml, mr, mt, mb = 34, 8, 18, 42
    pw, ph = width - ml - mr, height - mt - mb
    plot = Histogram(Frame(title, width, height, ml, mt, pw, ph))
    if not pts:
        return plot
    nb = min(max(_bin_of(e) for _, e, _ in pts) + 1, 64)
    ok, bad = [0] * nb, [0] * nb
    for _, e, b in pts:
        i = min(_bin_of(e), nb - 1)
        if b is not None and e > b:
            bad[i] += 1
        else:
            ok[i] += 1
    _bars(plot, [_bin_label(i) for i in range(nb)], ok, bad)
    return plot


def binned(bins: list[tuple[str, int, bool]], title: str = "", width: int = 460, height: int = 210) -> Histogram:
    """Bars of given counts, ``(label, count, over budget)`` each, on a
    logarithmic count axis: an exhaustive sweep's bins span 1 to 65,536
    inputs, and the few over budget must show beside the many within."""
    ml, mr, mt, mb = 40, 40, 18, 42  # room on the right for the last bar's label ("non-finite mismatch")
    plot = Histogram(Frame(title, width, height, ml, mt, width - ml - mr, height - mt - mb))
    if bins and any(c for _, c, _ in bins):
        _bars(plot, [b[0] for b in bins], [0 if b[2] else b[1] for b in bins], [b[1] if b[2] else 0 for b in bins],
              log=True)
    return plot


def _bars(plot: Histogram, labels: list[str], ok: list[int], bad: list[int], log: bool = False) -> None:
    f = plot.frame
    mt, ph, nb = f.top, f.plot_height, len(labels)
    top = max(o + b for o, b in zip(ok, bad)) or 1
    scale = (lambda c: math.log10(1 + c) / math.log10(1 + top)) if log else (lambda c: c / top)
    if log:
        plot.y_grid = [GridLine(mt + ph * (1 - scale(10 ** e)), f"{10 ** e:g}" if e < 4 else f"1e{e}")
                       for e in range(int(math.log10(top)) + 1)]
    else:
        plot.y_grid = [GridLine(mt + ph * (1 - frac), str(round(top * frac))) for frac in (0.5, 1.0)]
    bw = f.plot_width / nb
    step = max(1, math.ceil(nb / 6))  # at most about six labels under the bars
    for i in range(nb):
        x = f.left + i * bw
        if log:  # stacked: the total's height on the log axis, split in proportion
            h_all = ph * scale(ok[i] + bad[i])
            h_ok = h_all * ok[i] / (ok[i] + bad[i]) if ok[i] + bad[i] else 0.0
            h_bad = h_all - h_ok
        else:
            h_ok, h_bad = ph * ok[i] / top, ph * bad[i] / top
        plot.bars.append(Bar(x=x + 1, width=bw - 2, label_x=x + bw / 2, label=labels[i], show_label=i % step == 0,
                             within=ok[i], over=bad[i], within_y=mt + ph - h_ok, within_height=h_ok,
                             over_y=mt + ph - h_ok - h_bad, over_height=h_bad))
