"""The known-findings baseline: literal brackets in ids, globs, verdict
narrowing, stale entries, and one-line errors for a bad file."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from harness.baseline import Baseline, Entry, Observed, dump, load
from harness.errors import UsageError
from harness.records import Result
from harness.registry import all_impls, glob_match, select

ROW = Result.from_json({"impl": "tf.nn.softmax[onednn=off]", "family": "tensorflow", "function": "softmax",
                        "property": "accuracy", "dtype": "float32", "regime": "underflow", "verdict": "out-of-bound",
                        "schema": 1})


def test_ids_with_brackets_match_literally():
    assert glob_match("tf.nn.softmax[onednn=off]", "tf.nn.softmax[onednn=off]")
    assert glob_match("tf.nn.softmax[onednn=off]", "tf.nn.*")
    assert not glob_match("tf.nn.softmaxo", "tf.nn.softmax[onednn=off]")  # not a character class
    bracketed = next(i.id for i in all_impls() if "[" in i.id)  # ids depend on the process's modes
    assert [i.id for i in select([bracketed])] == [bracketed]


def test_entry_matching():
    b = Baseline([Entry("tf.nn.softmax[onednn=off]", "accuracy", "float*", verdict="out-of-bound", reason="ftz")])
    assert b.match(ROW).reason == "ftz"
    assert b.match(replace(ROW, verdict="wrong-special")) is None  # narrowed verdict: a change is news
    assert b.match(replace(ROW, property="stability")) is None
    assert b.match(replace(ROW, impl="tf.nn.softmax[onednn=on]")) is None


def test_stale_entry_is_reported():
    b = Baseline([Entry("tf.nn.softmax[onednn=off]", "accuracy", "*", reason="ftz")])
    passing = replace(ROW, verdict="good")
    assert b.stale([Observed(passing)]) == b.entries
    assert b.stale([Observed(ROW)]) == []
    assert b.stale([Observed(replace(passing, impl="other"))]) == []  # never ran: not stale


def test_dump_load_round_trip(tmp_path):
    entries = [Entry("tf.nn.softmax[onednn=off]", "accuracy", "float16", reason='quote " and \\ kept')]
    p = tmp_path / "b.toml"
    p.write_text(dump(entries))
    back = load(p).entries[0]
    assert (back.impl, back.reason) == ("tf.nn.softmax[onednn=off]", 'quote " and \\ kept')


def test_baseline_records_and_names_its_hypothesis_version(tmp_path):
    p = tmp_path / "b.toml"
    p.write_text(dump([Entry("numpy.*")], {"versions": {"hypothesis": "6.1.2"}, "cpu": []}))
    b = load(p)
    assert b.hypothesis == "6.1.2"
    assert b.version_note("6.1.2") is None
    assert "recorded with hypothesis 6.1.2, this run uses 6.9.9" in b.version_note("6.9.9")
    p.write_text(dump([Entry("numpy.*")]))
    assert load(p).version_note("6.9.9") is None  # an unrecorded version says nothing


@pytest.mark.parametrize(("text", "needle"), [("[[known]]\nproperty = 'x'\n", "no 'impl'"),
                                              ("[[known]]\nimpl = 'x'\ncolour = 1\n", "unknown key"),
                                              ("[[known]\n", "not valid TOML")])
def test_bad_file_is_a_usage_error(tmp_path, text, needle):
    p = tmp_path / "b.toml"
    p.write_text(text)
    with pytest.raises(UsageError, match=needle):
        load(p)


def test_every_glob_in_tox_and_readme_selects_an_implementation():
    # Ids carry brackets; a glob written for fnmatch's character classes selects nothing.
    root = Path(__file__).resolve().parents[2]
    text = (root / "tox.ini").read_text() + (root / "README.md").read_text()
    globs = {g for arg in re.findall(r"--impls ['\"]([^'\"]+)['\"]", text) for g in arg.split(",")}
    assert globs
    ids = [i.id for i in all_impls()]
    assert [g for g in sorted(globs) if not any(glob_match(i, g) for i in ids)] == []


FP_OLD = {"versions": {"scipy": "1.16.3", "numpy": "2.4.6", "hypothesis": "6.170.17"}, "cpu": ["avx2"]}
FP_NEW = {"versions": {"scipy": "1.17.1", "numpy": "2.4.6", "hypothesis": "6.170.17"},
          "cpu": ["avx2", "avx512_fp16"]}
SCIPY_ROW = Result("scipy.special.logsumexp", "scipy", "logsumexp", "contract", "bfloat16", "-", "error")


def test_when_conditions_on_versions_and_cpu_flags():
    e = Entry("scipy.special.logsumexp", when={"scipy": ">=1.17", "cpu": "avx512_fp16"})
    assert e.holds(FP_NEW) and not e.holds(FP_OLD)
    assert not Entry("x", when={"cpu": "!avx512_fp16"}).holds(FP_NEW)
    assert not Entry("x", when={"torch": ">=2"}).holds(FP_NEW)  # absent package: condition false
    b = Baseline([e])
    assert b.match(SCIPY_ROW, FP_NEW) is e and b.match(SCIPY_ROW, FP_OLD) is None
    assert b.stale([Observed(replace(SCIPY_ROW, verdict="exact"))], FP_OLD) == []  # could not have fired there


def test_new_failure_where_the_environment_differs_is_environment_dependent():
    b = Baseline([], recorded=FP_OLD)
    note = b.classify(SCIPY_ROW, FP_NEW)
    assert note.startswith("environment-dependent") and "scipy 1.16.3 -> 1.17.1" in note
    assert "cpu +avx512_fp16" in note
    assert b.classify(SCIPY_ROW, FP_OLD) is None  # same environment: new, fails the run
    torch_row = replace(SCIPY_ROW, impl="torch.softmax[cpu]", family="torch")
    assert "scipy" not in b.classify(torch_row, FP_NEW)  # only what the family depends on
    assert b.classify(torch_row, {**FP_NEW, "cpu": ["avx2"]}) is None
    assert Baseline([]).classify(SCIPY_ROW, FP_NEW) is None  # nothing recorded: strict


def test_each_result_is_judged_in_its_run_folders_environment():
    """The fingerprint of a result's folder travels with it (Observed): a `when` entry fires for a
    result computed where it holds, whatever this process has installed."""
    from harness.baseline import from_results
    from harness.commands.drift import drift_lines

    e = Entry("scipy.special.logsumexp", "contract", "bfloat16", reason="raises", when={"scipy": ">=1.17"})
    b = Baseline([e], recorded=FP_NEW)
    there, elsewhere = Observed(SCIPY_ROW, FP_NEW), Observed(SCIPY_ROW, FP_OLD)
    assert "findings appeared: 0" in "\n".join(drift_lines([there], b, FP_NEW))
    assert "findings appeared: 1" in "\n".join(drift_lines([elsewhere], b, FP_NEW))
    passing = replace(SCIPY_ROW, verdict="exact")
    assert b.stale([Observed(passing, FP_NEW)]) == [e] and b.stale([Observed(passing, FP_OLD)]) == []
    assert [(x.reason, x.when) for x in from_results([there], b)] == [("raises", e.when)]  # its reason kept
    # Computed where the entry does not hold: a new entry, and the conditional one kept for elsewhere.
    assert [x.reason for x in from_results([elsewhere], b)] == ["error: ", "raises"]


def test_when_and_recorded_round_trip(tmp_path):
    entries = [Entry("scipy.special.logsumexp", "contract", "bfloat16", reason="raises",
                     when={"scipy": ">=1.17", "cpu": "!avx512_fp16"})]
    p = tmp_path / "b.toml"
    p.write_text(dump(entries, FP_OLD))
    b = load(p)
    assert b.entries[0].when == entries[0].when and b.recorded["cpu"] == ["avx2"]
    assert b.hypothesis == "6.170.17" and b.recorded["versions"]["scipy"] == "1.16.3"


@pytest.mark.parametrize(("when", "words"), [
    ('{ scipy = "1.17" }', "not a version specifier"), ('{ nosuchpkg = ">=1" }', "unknown 'when' key"),
    ('{ cpu = "avx9000" }', "unknown cpu flag"), ('">=1"', "must be a table"),
])
def test_bad_when_is_a_one_line_error(tmp_path, when, words):
    p = tmp_path / "b.toml"
    p.write_text(f'[[known]]\nimpl = "x"\nwhen = {when}\n')
    with pytest.raises(UsageError, match=words):
        load(p)


def test_drift_names_versions_and_findings_that_moved():
    from harness.commands.drift import drift_lines

    b = Baseline([Entry("scipy.special.logsumexp", "stability", "float32", reason="old finding")], recorded=FP_OLD)
    results = [Observed(replace(SCIPY_ROW, dtype="float32")),  # appeared
               Observed(replace(SCIPY_ROW, property="stability", dtype="float32", verdict="good"))]  # disappeared
    text = "\n".join(drift_lines(results, b, FP_NEW))
    assert "scipy: 1.16.3 -> 1.17.1" in text and "+avx512_fp16" in text
    assert "findings appeared: 1" in text and "+ scipy.special.logsumexp contract float32: error" in text
    assert "findings disappeared: 1" in text and "old finding" in text
    same = "\n".join(drift_lines(results[1:2] + [Observed(replace(SCIPY_ROW, property="stability", dtype="float32",
                                                                 verdict="out-of-bound"))], b, FP_OLD))
    assert "package versions changed: 0" in same and "findings appeared: 0" in same and "disappeared: 0" in same
