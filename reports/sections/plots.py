"""7 Plots: per implementation, the sampled elements of the accuracy search
as a scatter (ulp error against |x_i - max|) and a histogram, at most
``MAX_PLOT_POINTS`` samples each so the page stays small."""

from __future__ import annotations

from collections import defaultdict

from .. import plot_layout
from ..common import MAX_PLOT_POINTS, dtype_order
from ..gather import ImplRow
from ..model import Plot


def _thin(series: dict[str, list]) -> dict[str, list]:
    """Each dtype's share of MAX_PLOT_POINTS: its largest errors, then a
    stride of the rest (the outliers matter most, the bulk gives the shape)."""
    total = sum(len(v) for v in series.values())
    if total <= MAX_PLOT_POINTS:
        return series
    out = {}
    for k, v in series.items():
        quota = max(8, MAX_PLOT_POINTS * len(v) // total)
        pts = plot_layout.clean_points(v)
        pts.sort(key=lambda p: -p[1])
        head = pts[: quota // 2]
        rest = pts[quota // 2:]
        stride = max(1, len(rest) // max(1, quota - len(head)))
        out[k] = head + rest[::stride]
    return out


def plots_section(rows: list[ImplRow]) -> list[Plot]:
    out = []
    for row in rows:
        series: dict[str, list] = defaultdict(list)
        for p in row.results:
            if p.result.property != "accuracy":
                continue
            pts = p.result.stats.get("points")
            if isinstance(pts, list):
                series[p.result.dtype].extend(pts)
        series = _thin({k: v for k, v in series.items() if plot_layout.clean_points(v)})
        if not series:
            continue
        order = sorted(series, key=dtype_order)
        series = {k: series[k] for k in order}
        out.append(Plot(key=row.key, label=row.label, family=row.family, function=row.function, dtypes=order,
                        n_samples=sum(len(v) for v in series.values()),
                        scatter=plot_layout.scatter(series, f"{row.label}: ulp error vs |x_i - max|"),
                        histogram=plot_layout.histogram(series, f"{row.label}: ulp error histogram")))
    return out
