"""The HTML report and the `report` / `merge` commands.

Fixture: tests/self/report_fixture.py (real Result records, partial runs,
an unavailable implementation, hostile strings).  The browser test loads the
report in headless Chromium (the Debian ``chromium`` package); it is skipped,
with the reason, where Chromium is not installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import report_fixture as fx

from harness.cli import main
from reports.arrays import ulp_distance
from reports.load import LoadError, load
from reports.render import build, render

SECTIONS = ("summary", "matrix", "accuracy", "special", "disagreements", "failures", "plots")


@pytest.fixture(scope="module")
def fixture_dirs(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def html_path(fixture_dirs, tmp_path_factory):
    return render(fixture_dirs["dirs"], tmp_path_factory.mktemp("report") / "index.html")


@pytest.fixture(scope="module")
def html(html_path):
    return html_path.read_text(encoding="utf-8")


def _matrix_row(html: str, impl_escaped: str) -> str:
    m = re.search(r'<tr class="mrow"[^>]*data-name="' + re.escape(impl_escaped) + r'"[^>]*>(.*?)</tr>', html, re.S)
    assert m, f"no matrix row for {impl_escaped}"
    return m.group(1)


def test_sections_and_matrix(html):
    for s in SECTIONS:
        assert f'<section id="{s}">' in html
    matrix = html[html.index('<section id="matrix">'):html.index('<section id="accuracy">')]
    for impl in ("fx.softmax[cpu]", "fx.softmax[cuda]", "fx.log_softmax", fx.UNAVAILABLE):
        assert impl in matrix
    cpu = _matrix_row(html, "fx.softmax[cpu]")
    assert "out-of-bound" in cpu and "2048 ulp" in cpu and 'href="#fail-' in cpu  # links to its failures
    assert "1 known" in _matrix_row(html, "fx.log_softmax")
    # self-contained: no external resources
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link " not in html


def test_unavailable_shown_as_unavailable(html):
    """Listed once under the matrix with its reason, not as a row of the table."""
    with pytest.raises(AssertionError):
        _matrix_row(html, fx.UNAVAILABLE)
    listed = html[html.index('<details id="matrix-unavailable">'):]
    m = re.search(r'<tr class="urow" data-name="' + re.escape(fx.UNAVAILABLE) + r'">(.*?)</tr>', listed, re.S)
    assert m
    row = m.group(1)
    assert "unavailable" in row and "CUDA not available" in row
    for passing in ("exact", "faithful", "good", "bounded"):
        assert f"v-{passing}" not in row
    assert "<i>here</i>" not in html  # the reason is escaped too
    assert "&lt;i&gt;here&lt;/i&gt;" in html


def test_untrusted_strings_are_escaped(html):
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bold</b>" not in html
    # exactly two script elements (data island and code): "</script>" in data cannot close one early
    assert html.count("<script") == 2 and html.count("</script>") == 2
    island = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1)
    data = json.loads(island)
    assert any(r["impl"] == fx.EVIL for r in data["rows"])


def test_partial_and_crashed_envs(html, fixture_dirs):
    assert "Partial results" in html
    assert "fx-crashed" in html and "no results (*.jsonl) in this folder" in html
    assert "the run did not complete" in html
    model = build(load(fixture_dirs["dirs"]))
    envs = {e.id: e for e in model.summary.envs}
    assert envs["fx-main"].complete and not envs["fx-gpu"].complete and not envs["fx-crashed"].complete
    assert "incomplete: fx-gpu, fx-crashed" in model.summary_line


def test_accuracy_special_disagreement_failures(fixture_dirs, html):
    model = build(load(fixture_dirs["dirs"]))
    acc = {r.label: r for r in model.accuracy.rows}
    cell = acc["fx.softmax[cpu]"].cells["float16"]
    assert cell.raw == 2048.0 and cell.lower_bound and cell.verdict == "out-of-bound"
    assert "≥ </span>2048" in html
    sv = {s.function: s for s in model.special}["softmax"]
    assert sv.classes == ["nan", "+inf", "empty"]
    nan_row = sv.grid[0].cells
    assert nan_row[0].profiles == {"ieee": "exact", "limit": "exact", "masked": "exact"}
    # cpu and cuda agree bitwise on one shared case, differ by one float32 step on the other
    dev = model.disagreements.devices
    assert dev and dev[0].dtypes[0].shared == 2 and dev[0].dtypes[0].equal == 1
    pair = model.disagreements.by_function[0].pairs[0]
    assert pair.differ == 1 and pair.distance == "1"
    # failures: worst first, known last; each with its reproducer and blob
    fails = model.failures.shown
    assert [f.effective for f in fails][-1] == "known"
    f16 = next(f for f in fails if f.result.impl == "fx.softmax[cpu]")
    assert f16.blob.startswith("@reproduce_failure(") and "harness.replay" in f16.reproducer
    assert any(r.worst and r.actual[0] == "0.0" for r in f16.window.rows)
    assert "<svg" in html and "ulp error" in html


def test_ulp_distance():
    import numpy as np

    a = np.array([1.0, -0.0, np.nan], np.float32)
    b = np.array([np.nextafter(np.float32(1), np.float32(2)), 0.0, np.nan], np.float32)
    assert ulp_distance(a, b) == 1.0
    assert ulp_distance(np.array([-1e-45], np.float32), np.array([1e-45], np.float32)) == 2.0
    assert ulp_distance(a, b.astype(np.float64)) is None


def test_report_cli(fixture_dirs, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(fixture_dirs["root"]), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out.resolve()}" in printed and "14 results from 3 env(s)" in printed
    assert out.stat().st_size > 10_000


def test_report_missing_dir_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope"), "-o", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty), "-o", str(tmp_path / "x.html")]) == 2
    assert "holds no results" in capsys.readouterr().err


def _copy_env(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_merge_rejects_corrupt_line(fixture_dirs, tmp_path, capsys):
    d = _copy_env(fixture_dirs["main"], tmp_path / "in" / "fx-main")
    f = d / "gw0-1.jsonl"
    lines = f.read_text().splitlines(keepends=True)
    lines.insert(2, '{"impl": "x", "verdict": \n')  # line 3: cut JSON, newline-terminated
    f.write_text("".join(lines))
    out = tmp_path / "merged"
    assert main(["merge", str(d), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:3: not valid JSON" in err and err.count("\n") == 1
    assert not out.exists()  # nothing written
    assert main(["report", str(d), "-o", str(tmp_path / "x.html")]) == 2  # the report refuses it too
    assert f"{f}:3" in capsys.readouterr().err


@pytest.mark.parametrize("line, why", [
    ('{"schema": 99, "impl": "x"}', "schema version 99"),
    ('[1, 2]', "expected a JSON object"),
    ('{"schema": 1, "impl": "x"}', "missing field(s) function"),
    ('{"schema": 1, "impl": "x", "function": "softmax", "property": "p", "dtype": "float32", "regime": "r", '
     '"verdict": "exact", "max_ulp": "3"}', "field 'max_ulp' has type str"),
])
def test_merge_rejects_bad_records(tmp_path, capsys, line, why):
    d = tmp_path / "env"
    d.mkdir()
    (d / "a.jsonl").write_text(line + "\n")
    assert main(["merge", str(d), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"a.jsonl:1: {why}" in err


def test_cut_last_line_is_dropped_not_fatal(fixture_dirs, tmp_path):
    d = _copy_env(fixture_dirs["main"], tmp_path / "fx-main")
    f = d / "gw0-1.jsonl"
    n = len(f.read_text().splitlines())
    with open(f, "a") as fh:
        fh.write('{"impl": "fx.softmax[cpu]", "fam')  # a writer killed mid-line: no newline
    (rs,) = load([d])
    assert len(rs.results) == n and any("cut short" in p for p in rs.problems)
    with open(f, "a") as fh:
        fh.write("\n")  # the same text, terminated, is a corrupt line
    with pytest.raises(LoadError, match=r"gw0-1.jsonl:\d+: not valid JSON"):
        load([d])


def test_merge_combines_and_keeps_runs_apart(fixture_dirs, tmp_path, capsys):
    # a second machine with the same env id but another run
    other = _copy_env(fixture_dirs["main"], tmp_path / "machine2" / "fx-main")
    env = json.loads((other / "env.json").read_text())
    env["started"] += 1000
    env["hostname"] = "machine2"
    (other / "env.json").write_text(json.dumps(env))
    same = _copy_env(fixture_dirs["main"], tmp_path / "copy" / "fx-main")  # the same run, copied elsewhere
    out = tmp_path / "merged"
    args = ["merge", str(fixture_dirs["root"]), str(other), str(same), "-o", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "merged once" in printed  # fx-main was given twice
    names = sorted(p.name for p in out.iterdir())
    assert names == ["fx-crashed", "fx-gpu", "fx-main", "fx-main@machine2"]
    (main_set,) = load([out / "fx-main"])
    assert len(main_set.results) == len(load([fixture_dirs["main"]])[0].results)
    sets = load([out])
    assert sorted(s.env_id for s in sets) == names
    # the merged folder renders; the same implementation in two envs gets a row per env
    model = build(sets)
    labels = {m.label for m in model.matrix.rows}
    assert {"fx.softmax[cpu] @ fx-main", "fx.softmax[cpu] @ fx-main@machine2"} <= labels


def test_same_env_id_from_two_machines_stays_apart(fixture_dirs, tmp_path):
    other = _copy_env(fixture_dirs["main"], tmp_path / "machine2" / "fx-main")
    env = json.loads((other / "env.json").read_text())
    env["hostname"] = "machine2"
    (other / "env.json").write_text(json.dumps(env))
    empty = tmp_path / "crashed-before-start"
    empty.mkdir()
    sets = load([fixture_dirs["main"], other, empty])
    assert [s.label for s in sets] == ["fx-main", "fx-main@machine2", "crashed-before-start"]
    assert "no results (*.jsonl) in this folder" in sets[2].problems
    labels = {m.label for m in build(sets).matrix.rows}
    assert {"fx.softmax[cpu] @ fx-main", "fx.softmax[cpu] @ fx-main@machine2"} <= labels


def test_large_result_set_stays_small(tmp_path):
    d = fx.many(tmp_path, 10_000)
    t0 = time.perf_counter()
    out = render([d], tmp_path / "big.html")
    dt = time.perf_counter() - t0
    size = out.stat().st_size
    html = out.read_text()
    assert size < 4_000_000, size
    # every result here is new (no baseline): new failures are never cut, one card per root cause
    model = build(load([d]))
    assert model.failures.omitted == 0 and len(model.failures.shown) == model.failures.n_groups
    assert html.count('<article class="failure') == model.failures.n_groups < model.failures.total
    assert "more failing result(s) omitted" not in html
    assert dt < 60, dt


# ---------------------------------------------------------------- real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{time.monotonic_ns()}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120)


def _console_errors(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install -y chromium)")
def test_browser_renders_report(html_path, tmp_path):
    url = html_path.resolve().as_uri()
    shot = tmp_path / "screenshot.png"
    p = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,2000", url)
    assert p.returncode == 0, p.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 30_000  # a rendered page, not a blank one
    assert not _console_errors(p.stderr), _console_errors(p.stderr)
    if os.environ.get("SOFTMAX_HARNESS_SCREENSHOT"):
        shutil.copy(shot, os.environ["SOFTMAX_HARNESS_SCREENSHOT"])

    p = _chromium(tmp_path, "--dump-dom", url)
    assert p.returncode == 0, p.stderr[-2000:]
    dom = p.stdout
    assert not _console_errors(p.stderr), _console_errors(p.stderr)
    assert 'data-js="ok"' in dom and 'id="js-status" data-state="ok"' in dom  # the inline script ran through
    assert "<title>JS ERROR" not in dom
    assert re.search(r'id="sel-summary">selection: 5 implementation\(s\)', dom)
    rows = re.findall(r'<tr class="mrow( hidden)?"[^>]*data-name="([^"]+)"', dom)
    assert {name for hidden, name in rows if not hidden} >= {"fx.softmax[cpu]", "fx.log_softmax"}
    assert fx.UNAVAILABLE not in {name for _, name in rows} and 'id="matrix-unavailable"' in dom  # listed once below

    # filters from the URL: only failing rows remain in the matrix
    p = _chromium(tmp_path, "--dump-dom", url + "#f:verdict=@failing")
    dom = p.stdout
    assert not _console_errors(p.stderr)
    rows = dict((name, hidden) for hidden, name in re.findall(r'<tr class="mrow( hidden)?"[^>]*data-name="([^"]+)"',
                                                              dom))
    assert rows["fx.softmax[cpu]"] == "" and rows["fx.log_softmax"] == " hidden"
