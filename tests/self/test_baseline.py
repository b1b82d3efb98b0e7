"""The known-findings baseline: literal brackets in ids, globs, verdict
narrowing, stale entries, and one-line errors for a bad file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.baseline import Baseline, Entry, dump, load
from harness.registry import UsageError, all_impls, glob_match, select

ROW = {"impl": "tf.nn.softmax[onednn=off]", "property": "accuracy", "dtype": "float32", "regime": "underflow",
       "verdict": "out-of-bound"}


def test_ids_with_brackets_match_literally():
    assert glob_match("tf.nn.softmax[onednn=off]", "tf.nn.softmax[onednn=off]")
    assert glob_match("tf.nn.softmax[onednn=off]", "tf.nn.*")
    assert not glob_match("tf.nn.softmaxo", "tf.nn.softmax[onednn=off]")  # not a character class
    bracketed = next(i.id for i in all_impls() if "[" in i.id)  # ids depend on the process's modes
    assert [i.id for i in select([bracketed])] == [bracketed]


def test_entry_matching():
    b = Baseline([Entry("tf.nn.softmax[onednn=off]", "accuracy", "float*", verdict="out-of-bound", reason="ftz")])
    assert b.match(ROW).reason == "ftz"
    assert b.match({**ROW, "verdict": "wrong-special"}) is None  # narrowed verdict: a change is news
    assert b.match({**ROW, "property": "stability"}) is None
    assert b.match({**ROW, "impl": "tf.nn.softmax[onednn=on]"}) is None


def test_stale_entry_is_reported():
    b = Baseline([Entry("tf.nn.softmax[onednn=off]", "accuracy", "*", reason="ftz")])
    passing = {**ROW, "verdict": "good"}
    assert b.stale([passing]) == b.entries
    assert b.stale([ROW]) == []
    assert b.stale([{**passing, "impl": "other"}]) == []  # never ran: not stale


def test_dump_load_round_trip(tmp_path):
    entries = [Entry("a[b=c]", "accuracy", "float16", reason='quote " and \\ kept')]
    p = tmp_path / "b.toml"
    p.write_text(dump(entries))
    back = load(p).entries[0]
    assert (back.impl, back.reason) == ("a[b=c]", 'quote " and \\ kept')


def test_baseline_records_and_names_its_hypothesis_version(tmp_path):
    p = tmp_path / "b.toml"
    p.write_text(dump([Entry("x")], hypothesis="6.1.2"))
    b = load(p)
    assert b.hypothesis == "6.1.2"
    assert b.version_note("6.1.2") is None
    assert "recorded with hypothesis 6.1.2, this run uses 6.9.9" in b.version_note("6.9.9")
    p.write_text(dump([Entry("x")]))
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
