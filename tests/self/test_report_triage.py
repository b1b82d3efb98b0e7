"""The report's first screen ("At a glance"), known findings' colours, the
page budget and where a jump lands, in headless Chromium where installed.

Fixtures: tests/self/report_fixture.py (``build``: new, known and passing
results; ``many``: 10,000 synthetic results)."""

from __future__ import annotations

import html as htmllib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import report_fixture as fx

from reports.common import effective, failing
from reports.load import load
from reports.render import render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREEN = (1400, 900)
BUDGET_PX = 15 * SCREEN[1]  # "under about 15 screens before any click"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def fixture_dirs(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def html(fixture_dirs, tmp_path_factory):
    return render(fixture_dirs["dirs"], tmp_path_factory.mktemp("report") / "index.html").read_text("utf-8")


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<section id="{sid}">(.*?)</section>', html, re.S)
    assert m, sid
    return m.group(1)


def test_every_new_failure_is_on_the_first_screen(fixture_dirs, html):
    first = _section(html, "triage")
    rows = [(htmllib.unescape(i), d.split()) for i, d in
            re.findall(r'<tr class="tnew" data-impl="([^"]*)" data-dtypes="([^"]*)"', first)]
    new = [r for rs in load(fixture_dirs["dirs"]) for r in rs.results if failing(effective(r))]
    assert new, "the fixture has new failures"
    for r in new:
        assert any(i == r.impl and r.dtype in ds for i, ds in rows), (r.impl, r.dtype, rows)
    # counts as links, and both ways of counting
    n_new = len(new)
    assert re.search(rf'href="#new-failures" id="count-new"><b>{n_new}</b> new', first)
    assert 'id="count-known"><b>1</b> known' in first and 'id="count-fixed"><b>0</b> fixed' in first
    assert re.search(rf"\d+ failing test\(s\) = {n_new} failing result\(s\)", first)
    assert 'id="env-line"' in first and "fx-main: cpu" in first
    # the known finding is not listed as new
    assert not any(i == "fx.log_softmax" for i, _ in rows)


@pytest.mark.filterwarnings("ignore")  # the fixture's implementations are not registered ones
def test_fixed_baseline_entries_are_listed(fixture_dirs, tmp_path):
    base = tmp_path / "baseline.toml"
    base.write_text('[[known]]\nimpl = "fx.softmax[cpu]"\nproperty = "contract"\ndtype = "float64"\n'
                    'regime = "ordinary"\nverdict = "wrong-shape"\nreason = "was fixed upstream"\n\n'
                    '[[known]]\nimpl = "fx.softmax[cpu]"\nproperty = "accuracy"\ndtype = "float16"\n'
                    'regime = "tiny-spread"\nverdict = "out-of-bound"\nreason = "still fails"\n')
    first = _section(render(fixture_dirs["dirs"], tmp_path / "r.html", baseline=base).read_text("utf-8"), "triage")
    assert 'id="count-fixed"><b>1</b> fixed' in first
    fixed = first[first.index('id="fixed"'):]
    assert "contract" in fixed and "float64" in fixed and "tiny-spread" not in fixed


def test_known_cell_keeps_its_severity_colour(html):
    row = re.search(r'data-name="fx.log_softmax".*?</tr>', html, re.S).group(0)
    cell = re.search(r'<td class="cell fcol ([^"]*)" data-dtype="float64" data-v="known" title="([^"]*)"', row)
    assert cell, row
    assert cell.group(1).split() == ["v-wrong-special", "kn"]  # severity colour plus the dashed mark
    assert "scipy returns -inf for +inf input (issue 123)" in htmllib.unescape(cell.group(2))
    assert ">known</b>" in row


# ---------------------------------------------------------------- in a browser

PROBE = """<script>window.addEventListener('load', function () {
  var t = performance.getEntriesByType('navigation')[0];
  setTimeout(function () {
    var o = {height: document.documentElement.scrollHeight, load_ms: t ? t.loadEventEnd - t.startTime : -1};
    var a = document.querySelector(%s);
    function done() {
      var d = document.createElement('pre'); d.id = 'probe'; d.textContent = JSON.stringify(o);
      document.body.appendChild(d);
    }
    if (!a) return done();
    a.click();
    setTimeout(function () {  // the page handles the jump on hashchange, which comes after the click
      var el = document.getElementById(a.getAttribute('href').slice(1));
      var title = el.querySelector('summary') || el;
      o.target = el.id;
      o.title_top = title.getBoundingClientRect().top;
      o.bar_bottom = document.getElementById('controls').getBoundingClientRect().bottom;
      o.open = !!(el.querySelector('details') || {}).open;
      done();
    }, 300);
  }, 300);
});</script>"""


def _probe(page: Path, tmp_path: Path, click: str = "null") -> dict:
    """Open ``page`` at 1400x900 with a script that clicks ``click`` (a CSS
    selector, JSON-quoted) and records the page height, the load time and
    where the clicked link's target landed."""
    probed = tmp_path / f"probed-{time.monotonic_ns()}.html"
    probed.write_text(page.read_text("utf-8").replace("</body>", PROBE % click + "</body>"), "utf-8")
    p = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / f'prof-{time.monotonic_ns()}'}",
                        f"--window-size={SCREEN[0]},{SCREEN[1]}", "--virtual-time-budget=5000", "--dump-dom",
                        probed.as_uri()], capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="probe">(.*?)</pre>', p.stdout)
    assert m, p.stderr[-2000:]
    return json.loads(htmllib.unescape(m.group(1)))


needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                                                             "(Debian: apt-get install -y chromium)")


@needs_chromium
def test_matrix_click_lands_below_the_sticky_bar(fixture_dirs, tmp_path):
    page = render(fixture_dirs["dirs"], tmp_path / "index.html")
    o = _probe(page, tmp_path, json.dumps('td.cell a[href^="#fail-"]'))
    assert o["target"].startswith("fail-") and o["open"], o
    # a known finding's card sits in a collapsed list: the jump opens it
    o = _probe(page, tmp_path, json.dumps('td.cell.kn a[href^="#fail-"]'))
    assert o["open"] and o["title_top"] >= o["bar_bottom"] > 0, o
    assert o["title_top"] >= o["bar_bottom"] > 0, o  # the card's title is not under the filter bar


@needs_chromium
def test_page_budget_for_a_large_result_set(tmp_path):
    page = render([fx.many(tmp_path, 10_000)], tmp_path / "big.html")
    o = _probe(page, tmp_path)
    assert o["height"] <= BUDGET_PX, o
    assert 0 <= o["load_ms"] < 2000, o


def test_disagreement_groups_carry_their_ulp_to_the_oracle(fixture_dirs):
    from reports.gather import gather
    from reports.sections.disagreements import disagreements_section, group_ulp

    rows = gather(load(fixture_dirs["dirs"])).rows
    cpu = next(w for w in rows if w.impl == "fx.softmax[cpu]")
    mx, med = group_ulp([cpu.key], "float32", {w.key: w for w in rows})
    pts = sorted(p[1] for p in next(p for p in cpu.results if p.result.property == "accuracy"
                                    and p.result.dtype == "float32").result.stats["points"])
    assert mx == 3.2 and med == pytest.approx(pts[len(pts) // 2] if len(pts) % 2 else
                                              (pts[len(pts) // 2 - 1] + pts[len(pts) // 2]) / 2)
    assert group_ulp([cpu.key], "float64", {w.key: w for w in rows}) == (None, None)  # no accuracy in float64
    d = disagreements_section(rows)
    assert all(len(g.group_ulp) == len(g.groups) for g in d.by_function)
    # a GPU implementation that did not run here is counted, never listed as a CPU/GPU pair
    assert d.n_gpu_unavailable == 1 and all(fx.UNAVAILABLE not in (c.gpu, c.cpu) for c in d.devices)


def test_accuracy_leaves_out_unavailable_rows_and_quiet_passing_cells(html):
    acc = _section(html, "accuracy")
    table = acc[acc.index('id="accuracy-table"'):acc.index("</table>")]
    assert htmllib.escape(fx.UNAVAILABLE) not in table
    assert htmllib.escape(fx.UNAVAILABLE) in acc[acc.index('id="accuracy-unavailable"'):]
    row = re.search(r'data-text="fx.log_softmax".*?</tr>', table, re.S).group(0)
    assert "bounded" in row and "input not stored" not in row  # a passing cell without a stored input


def test_special_values_mark_only_the_run_verdict(html):
    sv = _section(html, "special")
    assert htmllib.escape(fx.UNAVAILABLE) not in sv  # no column (or "-" row) for what did not run
    cells = re.findall(r'<td class="fimp svc ([^"]*)" data-family="[^"]*" data-text="([^"]*)" '
                       r'data-verdicts="([^"]*)" title="[^"]*?· ([^&]*)&#10;', sv)
    by = {(htmllib.unescape(t), cls.strip()): (c, v) for c, t, v, cls in cells}
    # limit's wrong-special on an implementation that claims ieee is not a failure marking
    assert by[("fx.softmax[cpu]", "+inf")] == ("v-exact", "exact")
    assert by[(fx.EVIL.lower(), "nan")] == ("v-wrong-special", "wrong-special")
    assert "wrong-special" in re.search(r'v-wrong-special"[^>]*>([^<]*)</td>', sv).group(0)
    assert "✗" in re.search(r'v-wrong-special"[^>]*>([^<]*)</td>', sv).group(1)
    assert "✗" not in re.search(r'v-exact"[^>]*>([^<]*)</td>', sv).group(1)


def test_plot_axes_follow_the_data_and_the_legend_stays_out_of_it():
    from reports.plot_layout import scatter

    pts = [[0.5, 0.4, 1e30], [3.0, 2.0, 1e30], [40.0, 60.0, 8.0]]  # a budget far above the errors
    p = scatter({"float32": pts, "float16": [[1.0, 0.3, 4.0]]})
    labels = [g.label for g in p.y_grid]
    assert labels[-1] == "100" and not any("e30" in x for x in labels), labels  # decades of the errors only
    top, bottom = p.frame.top, p.frame.top + p.frame.plot_height
    assert all(top <= st.y <= bottom for s in p.series for st in s.budget)  # a huge budget runs on the top edge
    over = [d for s in p.series for d in s.dots if d.over]
    assert over and all(top <= d.cy <= bottom for d in over)
    assert p.legend and top - 7 + 3 < top  # legend dots (r=3, at top - 7 in svg.html.j2) end above the plot area


def test_plot_far_outliers_sit_on_a_labelled_top_edge():
    from reports.plot_layout import scatter

    pts = [[float(i), 1.0 + i % 7, 8.0] for i in range(200)] + [[5.0, 1e271, 8.0]]
    p = scatter({"float64": pts})
    assert p.y_grid[-1].label.startswith("≥") and "e271" not in p.y_grid[-1].label
    top = [d for s in p.series for d in s.dots if d.over and d.cy == round(p.frame.top)]
    assert top  # the outlier is drawn, over budget, on the top edge


def test_an_implementation_is_one_worst_offender_across_envs(tmp_path):
    from reports.gather import gather
    from reports.render import build

    d = fx.build(tmp_path)
    a = d["dirs"][0]
    twin = tmp_path / "fx-twin"
    shutil.copytree(a, twin)
    env = json.loads((twin / "env.json").read_text())
    env["env_id"] = "fx-twin"
    (twin / "env.json").write_text(json.dumps(env))
    sets = load([a, twin])
    assert any(w.env_id for w in gather(sets).rows)  # the same implementations in two envs: two rows each
    s = build(load([a, twin])).summary
    impls = [m.impl for m in s.offenders]
    assert len(impls) == len(set(impls)) and "fx.softmax[cpu]" in impls
    assert len(s.offender_envs["fx.softmax[cpu]"]) == 1


def test_known_accuracy_cell_keeps_its_severity(html):
    acc = _section(html, "accuracy")
    row = re.search(r'data-text="fx.log_softmax".*?</tr>', acc, re.S).group(0)
    cell = re.search(r'data-dtype="float64".*?</td>', row, re.S).group(0)
    assert 'class="badge v-wrong-special"' in cell and 'class="knm">known' in cell
    assert 'class="badge v-known"' not in cell


def test_an_incomplete_run_is_red_on_the_first_screen(fixture_dirs, html, tmp_path):
    """`run` exits 3 when an env did not finish: the first screen says red and names it,
    even where nothing failed."""
    first = _section(html, "triage")
    m = re.search(r'<b id="triage-incomplete">incomplete: ([^<]*)</b>', first)
    assert m and set(m.group(1).split(", ")) == {"fx-gpu", "fx-crashed"}
    crashed = [d for d in fixture_dirs["dirs"] if Path(d).name == "fx-crashed"]
    alone = _section(render(crashed, tmp_path / "crashed.html").read_text("utf-8"), "triage")
    assert "<b>CI is red:</b>" in alone and "incomplete: fx-crashed" in alone
    main = [d for d in fixture_dirs["dirs"] if Path(d).name == "fx-main"]
    assert "triage-incomplete" not in _section(render(main, tmp_path / "main.html").read_text("utf-8"), "triage")
