"""Turns results folders (JSON Lines written by the pytest plugin) into one
self-contained HTML report.

- ``reports.load``: read and validate results folders (``*.jsonl``,
  ``env.json``, ``impls.json``); a bad line is refused by file and line.
- ``reports.render``: ``render(dirs, out_path) -> Path`` aggregates the
  results and renders ``templates/report.html.j2``.
- ``reports.plot_layout``: inline SVG plots laid out (no plotting library);
  ``templates/plots.html.j2`` draws them under the page's autoescape.
"""
