"""Turns results folders (JSON Lines written by the pytest plugin) into one
self-contained HTML report.

- ``reports.load``: read and validate results folders (``*.jsonl``,
  ``env.json``, ``impls.json``); a bad line is refused by file and line.
- ``reports.render``: ``render(dirs, out_path) -> Path``; ``build(sets)``
  gives the typed model (``reports.model``) that ``templates/report.html.j2``
  renders under autoescape.
- ``reports.gather``: results grouped into rows (implementation, env).
- ``reports.sections``: one module per section of the page.
- ``reports.arrays``: stored arrays decoded, compared and shown.
- ``reports.plot_layout``: inline SVG plots laid out (no plotting library);
  the macros in ``templates/svg.html.j2`` draw them.
"""
