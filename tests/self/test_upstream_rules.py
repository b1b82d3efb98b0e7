"""The upstream tolerance rules (harness/upstream_rules.py): each rule passes
and fails where its definition says, the blind / too-strict classification
follows the oracle's verdict, and real searches carry the tallies into the
Result, the report's section and check's line."""

import numpy as np
import pytest
from zoo import MEMBERS

from harness import upstream_rules as ur
from harness.conformance import explore
from harness.evaluate import accuracy, expected
from harness.records import Case, Impl
from harness.registry import get
from reports.load import load
from reports.render import build, render_model


def _judge(fn, case, got):
    ex = expected(case, fn, case.dtype)
    f = accuracy(_impl(fn, lambda c: got), case, got, rules=True)
    return f.stats["rules"], ex


def _impl(fn, call):
    return Impl(f"t.{fn}", "user", fn, call)


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _nudge(a, ulps):
    """``a`` moved ``ulps`` units in the last place up (same dtype)."""
    out = a.copy()
    for _ in range(ulps):
        out = np.nextafter(out, np.inf, dtype=a.dtype)
    return out


def test_correctly_rounded_output_passes_every_rule():
    case = Case(np.array([[0.5, -3.0, 2.25, 1.0]], np.float32))
    ex = expected(case, "softmax", "float32")
    rules, _ = _judge("softmax", case, ex.rounded)
    assert rules == {"assert_close": True, "flash_2x": True, "webnn": True}


def test_assert_close_fails_past_rtol_and_atol():
    # float32 defaults: rtol 1.3e-6 (about 11 ulp near 0.5), atol 1e-5 dominates tiny values
    case = Case(np.array([[0.0, 0.0]], np.float32))  # exactly 0.5 each
    rules, _ = _judge("softmax", case, np.array([[0.5 + 1e-5, 0.5]], np.float32))
    assert rules["assert_close"] is True  # within atol + rtol * 0.5
    rules, _ = _judge("softmax", case, np.array([[0.5 + 3e-5, 0.5]], np.float32))
    assert rules["assert_close"] is False


def test_flash_rule_compares_with_the_naive_low_precision_error():
    # a float16 row whose naive float16 evaluation is not correctly rounded
    x = np.linspace(-3, 3, 37).astype(np.float16)[None, :]
    case = Case(x)
    ex = expected(case, "softmax", "float16")
    naive = ur.NAIVE["softmax"](x, 1)
    naive_err = np.max(np.abs(naive.astype(np.float64) - ex.hi))
    assert naive_err > 0, "the construction needs a naive error to compare with"
    assert _judge("softmax", case, naive)[0]["flash_2x"] is True  # 1x the naive error
    worse = ex.rounded.astype(np.float64)
    k = int(np.argmax(worse))
    worse[0, k] += 3 * naive_err  # three times the naive error at one element
    assert _judge("softmax", case, worse.astype(np.float16))[0]["flash_2x"] is False


def test_webnn_budget_is_3n_plus_3_ulps():
    case = Case(np.array([[0.0, 0.0, 0.0, 0.0]], np.float32))  # 0.25 each, N = 4: 15 ulp allowed
    ex = expected(case, "softmax", "float32")
    assert _judge("softmax", case, _nudge(ex.rounded, 15))[0]["webnn"] is True
    assert _judge("softmax", case, _nudge(ex.rounded, 16))[0]["webnn"] is False


def test_rules_apply_only_where_defined():
    assert ur.applies("assert_close", "cross_entropy")
    assert not ur.applies("flash_2x", "softmax_jacobian") and ur.applies("flash_2x", "logsumexp")
    assert ur.applies("webnn", "softmax") and not ur.applies("webnn", "log_softmax")
    case = Case(np.array([[0.5, 1.5]], np.float64))
    rules, _ = _judge("log_softmax", case, expected(case, "log_softmax", "float64").rounded)
    assert set(rules) == {"assert_close", "flash_2x"}


@pytest.mark.parametrize(("verdict", "passed", "kind"), [
    ("out-of-bound", True, "blind"), ("wrong-special", True, "blind"), ("out-of-bound", False, None),
    ("bounded", False, "too_strict"), ("exact", False, "too_strict"), ("good", True, None),
    ("ftz", False, None), ("error", True, None)])
def test_disagreement_kinds(verdict, passed, kind):
    assert ur.disagreement(verdict, passed) == kind


def _member(name):
    return next(m.impl for m in MEMBERS if m.impl.id == f"zoo.{name}")


def test_search_tallies_a_blind_rule_on_a_real_defect():
    # float32 computed in float16 (thousands of ulps off): torch's default rtol/atol passes every
    # example (atol 1e-5 swallows the small probabilities), the oracle and FlashAttention's rule do not
    res = explore(_member("half_downcast"), "float32", "accuracy", "ci")
    assert res.verdict == "out-of-bound" and res.max_ulp > 1000
    t = res.stats["rules"]
    assert set(t) == {"assert_close", "flash_2x", "webnn"}
    examples = t["assert_close"]["pass"] + t["assert_close"]["fail"]
    assert examples == res.stats["examples"]
    assert t["assert_close"]["fail"] == 0 and t["assert_close"]["blind"] == examples
    assert t["flash_2x"]["fail"] > 0 and t["flash_2x"]["blind"] == 0
    assert ur.describe(t, res.verdict).startswith("upstream rules: assert_close pass (blind: out of bound)")


def _model(tmp_path, results):
    d = tmp_path / "t-env"
    d.mkdir(parents=True)
    (d / "gw0-1.jsonl").write_text("".join(r.dumps() + "\n" for r in results))
    return build(load([d]))


def test_report_counts_blind_and_too_strict_results(tmp_path):
    bad = explore(_member("half_downcast"), "bfloat16", "accuracy", "ci")  # out of bound
    good = explore(get("numpy.stable_softmax"), "float32", "accuracy", "ci")  # within bound
    assert bad.verdict == "out-of-bound" and good.verdict in ur.WITHIN
    rows = {r.rule: r for r in _model(tmp_path, [bad, good]).rules.rows}
    for rule, r in rows.items():
        assert r.results == 2
        passed_bad = not bad.stats["rules"][rule]["fail"]
        passed_good = not good.stats["rules"][rule]["fail"]
        assert r.blind == int(passed_bad) and r.too_strict == int(not passed_good)
        assert r.agree == 2 - r.blind - r.too_strict


def test_report_section_renders_and_says_when_empty(tmp_path):
    good = explore(get("numpy.stable_softmax"), "float32", "accuracy", "ci")
    html = render_model(_model(tmp_path / "a", [good]))
    assert 'id="rules-table"' in html and "FlashAttention" in html
    contract = explore(get("numpy.stable_softmax"), "float32", "contract", "ci")
    html = render_model(_model(tmp_path / "b", [contract]))
    assert "No accuracy result in this run carries upstream-rule verdicts" in html


def test_check_line_names_each_rule_and_the_disagreement():
    t = {"assert_close": {"pass": 3, "fail": 0}, "flash_2x": {"pass": 1, "fail": 2}}
    line = ur.describe(t, "good")
    assert line == "upstream rules: assert_close pass; flash_2x FAIL on 2 of 3 examples (too strict: within bound)"
    assert "blind" in ur.describe(t, "out-of-bound")
