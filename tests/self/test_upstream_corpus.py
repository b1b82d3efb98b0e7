"""The upstream-regression corpus (harness/upstream_corpus.py): well-formed
tags and links, correct implementations pass every case, planted bugs fail
the case that names their upstream report, the report shows the matrix, and
a stored case replays."""

import re

import numpy as np
import pytest
from zoo import MEMBERS

from harness import verdicts
from harness.conformance import upstream
from harness.dtypes import DTYPES
from harness.records import FUNCTIONS, Case, Impl
from harness.registry import get
from harness.replaying import replay
from harness.upstream_corpus import CORPUS, cases_for
from reports.load import load
from reports.render import build, render_model

TAG = re.compile(r"^upstream:([\w.-]+/)?[\w.-]+#\d+$")


def test_tags_are_unique_well_formed_and_linked():
    tags = [u.tag for u in CORPUS]
    assert len(tags) == len(set(tags)) >= 11
    for u in CORPUS:
        assert TAG.match(u.tag), u.tag
        assert u.url.startswith("https://github.com/") and u.url.endswith("/" + u.tag.split("#")[1]), u.url
        assert u.function in FUNCTIONS and u.title


def test_cases_carry_their_tag_in_the_asked_dtype():
    for u in CORPUS:
        for dt in DTYPES:
            c = u.case(dt)
            if c is None:
                assert u.dtypes is not None and dt not in u.dtypes
                continue
            assert c.regime == u.tag and c.dtype == dt


@pytest.mark.parametrize("impl_id", ["numpy.stable_softmax", "numpy.stable_log_softmax", "numpy.stable_logsumexp",
                                     "numpy.masked_softmax"])
def test_correct_implementations_pass_every_case(impl_id):
    impl = get(impl_id)
    for dt in DTYPES:
        rs = upstream(impl, dt)
        assert rs and all(r.property == "upstream" and r.regime.startswith("upstream:") for r in rs)
        bad = [(r.regime, r.verdict, r.message) for r in rs if not verdicts.passes(r.verdict)]
        assert not bad, (impl_id, dt, bad)


def _member(name):
    return next(m.impl for m in MEMBERS if m.impl.id == f"zoo.{name}")


def _one_hot_fallback(c: Case) -> np.ndarray:
    """Stable softmax, but a row with no finite logit becomes one-hot on its first
    element (a "safe" fallback some kernels take): no convention gives that."""
    x = c.logits.astype(np.float64)
    with np.errstate(invalid="ignore"):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        y = e / e.sum(axis=-1, keepdims=True)
    dead = ~np.isfinite(x).any(axis=-1)
    y[dead] = 0.0
    y[dead, 0] = 1.0
    return y.astype(c.logits.dtype)


ONE_HOT = Impl("t.one_hot_fallback", "user", "softmax", _one_hot_fallback, last_axis_only=True)


@pytest.mark.parametrize(("impl", "tag"), [
    (lambda: ONE_HOT, "upstream:pytorch#25110"),  # all -inf: NaN, uniform or zeros, never one-hot
    (lambda: _member("mask_after_softmax"), "upstream:pytorch#103749"),  # masked, not renormalised
    (lambda: get("torch.seed_scratch_softmax[cpu]"), "upstream:pytorch#6864"),  # unshifted exp: [inf, 0] -> [nan, 0]
])
def test_a_planted_bug_fails_the_case_of_its_report(impl, tag):
    impl = impl()
    ok, why = impl.availability()
    if not ok:
        pytest.skip(why)
    rs = {r.regime: r for r in upstream(impl, "float32")}
    assert not verdicts.passes(rs[tag].verdict), rs[tag].message
    assert rs[tag].reproducer and rs[tag].case


def test_replay_of_a_stored_upstream_case_gives_the_same_verdict():
    impl = get("torch.seed_scratch_softmax[cpu]")
    if not impl.availability()[0]:
        pytest.skip(impl.availability()[1])
    r = next(r for r in upstream(impl, "float64") if r.regime == "upstream:pytorch#6864")
    (f,) = replay(r.case, impl.id, "upstream")
    assert f.verdict == r.verdict == "wrong-special" and f.property == "upstream"
    assert "harness.replay(" in r.reproducer and "'upstream'" in r.reproducer


def test_a_dtype_without_cases_is_one_unsupported_result():
    impl = get("numpy.stable_logsumexp")
    assert all(cases_for(impl, dt) for dt in DTYPES)
    (r,) = upstream(get("numpy.softmax_vjp"), "float32")
    assert r.verdict == "unsupported" and "no upstream case" in r.message


def test_report_shows_cases_by_implementations(tmp_path):
    rs = upstream(get("numpy.stable_softmax"), "float32") + upstream(ONE_HOT, "float32")
    d = tmp_path / "env"
    d.mkdir()
    (d / "gw0-1.jsonl").write_text("".join(r.dumps() + "\n" for r in rs))
    model = build(load([d]))
    (t,) = model.upstream
    assert t.function == "softmax" and [i.label for i in t.impls] == ["numpy.stable_softmax", "t.one_hot_fallback"]
    row = next(r for r in t.rows if r.tag == "upstream:pytorch#25110")
    assert row.cells[0].verdict in verdicts.PASSING and row.cells[0].short == "I"
    assert row.cells[1].verdict not in verdicts.PASSING
    finite = next(r for r in t.rows if r.tag == "upstream:tensorflow#116933")
    assert finite.cells[0].short == "0"  # a finite case shows its ulps
    html = render_model(model)
    assert 'id="upstream-softmax"' in html and "pytorch/pytorch/issues/25110" in html
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "gw0-1.jsonl").write_text(upstream(get("numpy.softmax_vjp"), "float32")[0].dumps() + "\n")
    assert "No upstream-regression results in this run" in render_model(build(load([empty])))


def test_unsupported_reason_is_kept():
    impl = get("torch.seed_scratch_softmax[cpu]")  # 2-D only: the (3, 1) and (2, 3) cases fit, nothing else
    if not impl.availability()[0]:
        pytest.skip(impl.availability()[1])
    assert all(np.ndim(c.logits) == 2 for c in cases_for(impl, "float32"))
