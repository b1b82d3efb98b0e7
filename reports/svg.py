"""Inline SVG plots, written by hand (no plotting library, no network).

- :func:`scatter`: ULP error against |x_i - max| for one implementation, one
  colour per dtype, with the error budget drawn as a dashed line per dtype.
  Both axes are logarithmic (x as log10(1 + |x_i - max|), y as log10 ulp with
  a floor), since the budget grows with |x_i - max| and errors span decades.
- :func:`histogram`: the same samples binned by ulp error in powers of two,
  split into within-budget and over-budget counts.

Every piece of text is XML-escaped here; the returned string is markup that
the template includes as is.
"""

from __future__ import annotations

import math
from html import escape

DTYPE_COLOURS = {"float16": "#d95f02", "bfloat16": "#7570b3", "float32": "#1b9e77", "float64": "#386cb0"}
OTHER_COLOUR = "#666666"
Y_FLOOR = 1e-2  # errors below this (exact results) sit on the floor
X_DECADES = 5  # |x_i - max| axis ends at 1e5; larger distances sit on the right edge


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _finite(*vs) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in vs)


def clean_points(points) -> list[tuple[float, float, float | None]]:
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


def scatter(series: dict[str, list], title: str = "", width: int = 350, height: int = 210) -> str:
    """``series``: dtype -> points [(|x - max|, ulp error, budget)]."""
    data = {k: clean_points(v) for k, v in series.items()}
    data = {k: v for k, v in data.items() if v}
    ml, mr, mt, mb = 44, 18, 18, 30
    pw, ph = width - ml - mr, height - mt - mb
    parts = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>']
    if not data:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">no samples</text>')
        return "".join(parts) + "</svg>"
    xs = [_xmap(p[0]) for v in data.values() for p in v]
    ys = [_ymap(p[1]) for v in data.values() for p in v] + \
         [_ymap(p[2]) for v in data.values() for p in v if p[2] is not None]
    x_hi = float(min(max(1, math.ceil(max(xs))), X_DECADES))  # beyond 1e5, exp underflows: clamp to the edge
    y_lo, y_hi = _ymap(Y_FLOOR), max(1.0, math.ceil(max(ys)))
    sx = lambda x: ml + pw * min(_xmap(x), x_hi) / x_hi
    sy = lambda y: mt + ph * (1 - (_ymap(y) - y_lo) / (y_hi - y_lo))
    # grid and axes
    ystep = max(1, math.ceil((y_hi - y_lo) / 8))
    for e in _decades(y_lo, y_hi)[::ystep]:
        y = mt + ph * (1 - (e - y_lo) / (y_hi - y_lo))
        parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{_f(y)}" y2="{_f(y)}" class="grid"/>')
        parts.append(f'<text x="{ml - 4}" y="{_f(y + 3)}" text-anchor="end" class="tick">'
                     f'{escape(_tick_label(e, e == y_lo))}</text>')
    for e in range(0, int(x_hi) + 1, max(1, math.ceil(x_hi / 8))):
        x = ml + pw * e / x_hi
        label = "0" if e == 0 else ("≥" if e == X_DECADES and max(xs) > X_DECADES else "") + _tick_label(e)
        parts.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{mt}" y2="{mt + ph}" class="grid"/>')
        parts.append(f'<text x="{_f(x)}" y="{mt + ph + 12}" text-anchor="middle" class="tick">{escape(label)}</text>')
    parts.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" class="frame"/>')
    parts.append(f'<text x="{ml + pw / 2}" y="{height - 3}" text-anchor="middle" class="axis">|x_i − max|</text>')
    parts.append(f'<text x="10" y="{mt + ph / 2}" text-anchor="middle" class="axis" '
                 f'transform="rotate(-90 10 {mt + ph / 2})">ulp error</text>')
    # budget: per dtype, the largest budget among the samples of each x bin,
    # drawn as a dashed step over that bin only (no interpolation between bins)
    nbins = 40
    for k, pts in data.items():
        colour = DTYPE_COLOURS.get(k, OTHER_COLOUR)
        bins: dict[int, float] = {}
        for x, _, b in pts:
            if b is None:
                continue
            i = min(int(min(_xmap(x), x_hi) / x_hi * nbins), nbins - 1)
            bins[i] = max(b, bins.get(i, 0.0))
        if bins:
            segs = []
            for i, b in sorted(bins.items()):
                x0, x1, y = ml + pw * i / nbins, ml + pw * (i + 1) / nbins, sy(b)
                segs.append(f"M{_f(x0)},{_f(y)}H{_f(x1)}")
            parts.append(f'<path d="{"".join(segs)}" fill="none" stroke="{colour}" stroke-width="1.6" '
                         f'stroke-dasharray="3 2"><title>{escape(k)} budget (bounded)</title></path>')
    # points (deduplicated on the pixel grid)
    for k, pts in data.items():
        colour = DTYPE_COLOURS.get(k, OTHER_COLOUR)
        seen = set()
        dots = []
        for x, e, b in pts:
            cx, cy = round(sx(x)), round(sy(e))
            over = b is not None and e > b
            if (cx, cy, over) in seen:
                continue
            seen.add((cx, cy, over))
            if over:
                dots.append(f'<path d="M{cx - 3},{cy - 3}L{cx + 3},{cy + 3}M{cx - 3},{cy + 3}L{cx + 3},{cy - 3}" '
                            f'stroke="#c00" stroke-width="1.5"/>')
            else:
                dots.append(f'<circle cx="{cx}" cy="{cy}" r="2.2"/>')
        parts.append(f'<g fill="{colour}" fill-opacity="0.75"><title>{escape(k)}</title>{"".join(dots)}</g>')
    # legend
    lx = ml + 6
    for k in data:
        colour = DTYPE_COLOURS.get(k, OTHER_COLOUR)
        parts.append(f'<circle cx="{lx}" cy="{mt + 8}" r="3" fill="{colour}"/>'
                     f'<text x="{lx + 6}" y="{mt + 11}" class="legend">{escape(k)}</text>')
        lx += 12 + 6.2 * len(k)
    return "".join(parts) + "</svg>"


def histogram(series: dict[str, list], title: str = "", width: int = 280, height: int = 210) -> str:
    """Counts of samples by ulp error: [0, 0.5], (0.5, 1], (1, 2], (2, 4], ...;
    within budget (green) and over budget (red), all dtypes together."""
    pts = [p for v in series.values() for p in clean_points(v)]
    ml, mr, mt, mb = 34, 8, 18, 42
    pw, ph = width - ml - mr, height - mt - mb
    parts = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>']
    if not pts:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="muted">no samples</text>')
        return "".join(parts) + "</svg>"

    def bin_of(e: float) -> int:
        if e <= 0.5:
            return 0
        return max(1, math.ceil(math.log2(e)) + 1)  # 1: (0.5, 1], 2: (1, 2], 3: (2, 4], ...

    nb = min(max(bin_of(e) for _, e, _ in pts) + 1, 64)
    ok, bad = [0] * nb, [0] * nb
    for _, e, b in pts:
        i = min(bin_of(e), nb - 1)
        if b is not None and e > b:
            bad[i] += 1
        else:
            ok[i] += 1
    top = max(o + b for o, b in zip(ok, bad)) or 1
    bw = pw / nb
    parts.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" class="frame"/>')
    for frac in (0.5, 1.0):
        y = mt + ph * (1 - frac)
        parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{_f(y)}" y2="{_f(y)}" class="grid"/>'
                     f'<text x="{ml - 3}" y="{_f(y + 3)}" text-anchor="end" class="tick">{round(top * frac)}</text>')
    step = max(1, math.ceil(nb / 6))
    for i in range(nb):
        x = ml + i * bw
        h_ok, h_bad = ph * ok[i] / top, ph * bad[i] / top
        label = "≤½" if i == 0 else ("≤1" if i == 1 else f"≤2^{i - 1}" if i > 4 else f"≤{2 ** (i - 1)}")
        tip = f"{label} ulp: {ok[i]} within budget, {bad[i]} over"
        parts.append(f'<g><title>{escape(tip)}</title>')
        if ok[i]:
            parts.append(f'<rect x="{_f(x + 1)}" y="{_f(mt + ph - h_ok)}" width="{_f(bw - 2)}" height="{_f(h_ok)}" '
                         f'fill="#4d9221"/>')
        if bad[i]:
            parts.append(f'<rect x="{_f(x + 1)}" y="{_f(mt + ph - h_ok - h_bad)}" width="{_f(bw - 2)}" '
                         f'height="{_f(h_bad)}" fill="#c51b7d"/>')
        parts.append("</g>")
        if i % step == 0:
            parts.append(f'<text x="{_f(x + bw / 2)}" y="{mt + ph + 12}" text-anchor="middle" class="tick">'
                         f'{escape(label)}</text>')
    parts.append(f'<text x="{ml + pw / 2}" y="{height - 16}" text-anchor="middle" class="axis">ulp error</text>')
    parts.append(f'<text x="{ml}" y="{height - 3}" class="legend"><tspan fill="#4d9221">■</tspan> within budget '
                 f'<tspan fill="#c51b7d">■</tspan> over budget</text>')
    return "".join(parts) + "</svg>"
