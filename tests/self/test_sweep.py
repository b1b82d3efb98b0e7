"""`softmax-harness sweep`: every half-precision bit pattern, graded with the
conformance budgets; planted bugs are caught and their worst input named;
an implementation that fails in any way is recorded and the others swept."""

from __future__ import annotations

import json

import numpy as np
import pytest
import report_fixture  # tests/self, on the path (conftest)

from harness import registry
from harness.cli import main
from harness.impls.numpy_impls import stable_sigmoid, stable_softmax
from harness.records import Impl
from harness.sweep import N_PATTERNS, patterns, sweep, sweep_impl
from oracles import FORMATS
from reports.render import render_with_model


def _impl(name: str, function: str, fn, **kw) -> Impl:
    return Impl(f"t.{name}", "user", function, lambda c: fn(c.logits), **kw)


def _bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x).view(np.uint16)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_every_bit_pattern_once(dtype):
    """Each call's batch holds the 65,536 distinct patterns, in each layout, beside an exact 0."""
    assert len(np.unique(_bits(patterns(dtype)))) == N_PATTERNS
    seen = []

    def recording(x):
        seen.append(x.copy())
        return stable_softmax(x)

    res = sweep_impl(_impl("rec", "softmax", recording), dtype)
    assert [s.shape for s in seen] == [(N_PATTERNS, 2)] * 2  # one call per layout, the whole batch
    (a, b) = seen
    assert len(np.unique(_bits(a[:, 1]))) == N_PATTERNS and not _bits(a[:, 0]).any()  # [0, x]
    assert len(np.unique(_bits(b[:, 0]))) == N_PATTERNS and not _bits(b[:, 1]).any()  # [x, 0]
    assert res.n_inputs == 2 * N_PATTERNS
    n_nonfinite = sum(c["patterns"] for c in res.nonfinite)
    assert sum(b[1] for b in res.histogram) == res.n_inputs - n_nonfinite  # every finite input binned once
    with np.errstate(invalid="ignore"):  # NaN payloads cast
        assert n_nonfinite == 2 * int((~np.isfinite(patterns(dtype).astype(np.float64))).sum())


@pytest.mark.parametrize("impl_id,dtype", [("numpy.stable_softmax", "bfloat16"), ("numpy.stable_softmax", "float16"),
                                           ("numpy.stable_sigmoid", "float16"),
                                           ("numpy.stable_log_softmax", "float16")])
def test_correct_implementation_within_budget(impl_id, dtype):
    res = sweep_impl(registry.get(impl_id), dtype)
    assert res.passed and res.n_over == 0, res.line()
    assert res.max_ulp is not None and res.max_ulp <= 2
    assert {c["class"]: c["verdict"] for c in res.nonfinite} == {"+inf": "exact", "-inf": "exact", "NaN": "exact"}


def test_one_wrong_bit_pattern_is_named():
    target = 0xc049  # bfloat16 -3.140625: the only input this implementation gets wrong

    def one_off(x):
        out = stable_softmax(x)
        out[(_bits(x) == target).any(axis=-1)] = 0.5
        return out

    res = sweep_impl(_impl("one_off", "softmax", one_off), "bfloat16")
    assert res.verdict == "out-of-bound" and not res.passed
    assert res.n_over == 2  # the pattern in [0, x] and in [x, 0], nothing else
    assert [(w["bits"], w["layout"]) for w in res.worst[:2]] == [("c049", "[0, x]"), ("c049", "[x, 0]")]
    assert res.worst[0]["x"] == "-3.140625" and res.worst[0]["output"] == ["0.5", "0.5"]
    assert res.worst[2]["grade"] != "out-of-bound"
    assert dict((b[0], b[1]) for b in res.histogram)[">budget"] == 2


def test_sigmoid_in_half_precision_is_caught_at_the_first_overflow():
    """1/(1 + exp(-x)) in float16: exp(-x) overflows to inf and the result
    to 0 where the exact value is still ~1.5e-5, 255 ulps; the worst input
    is the negative x nearest zero whose half exp overflows."""
    def half_sigmoid(x):
        with np.errstate(over="ignore"):
            return (np.float16(1) / (np.float16(1) + np.exp(-x))).astype(x.dtype)

    res = sweep_impl(_impl("half_sigmoid", "sigmoid", half_sigmoid), "float16")
    assert res.verdict == "out-of-bound" and res.n_over > 0
    x = patterns("float16")
    with np.errstate(over="ignore", invalid="ignore"):
        overflow = (x < 0) & np.isinf(np.exp(-x))
    first = int(_bits(x)[overflow][np.argmax(x[overflow])])
    assert res.worst[0]["bits"] == f"{first:04x}" and res.worst[0]["output"] == ["0.0"]
    assert res.max_ulp > 200


def _flushing(x):
    out = stable_softmax(x)
    return np.where(np.abs(out.astype(np.float32)) < FORMATS[x.dtype.name].min_normal, 0, out).astype(x.dtype)


def test_flush_to_zero_fails_in_float16_and_is_named_ftz_in_bfloat16():
    """policy's FTZ rule, applied per sweep: a lost 6e-5 is a real probability, a lost 1e-38 is not."""
    impl = _impl("ftz", "softmax", _flushing)
    f16, bf16 = sweep_impl(impl, "float16"), sweep_impl(impl, "bfloat16")
    assert f16.verdict == "out-of-bound" and f16.n_over > 0
    assert bf16.verdict == "ftz" and bf16.passed and bf16.n_over == 0
    assert dict((b[0], b[1]) for b in bf16.histogram)["flushed (ftz)"] > 0


def test_failures_are_recorded_and_the_others_still_swept():
    def boom(x):
        raise RuntimeError("planted failure\nsecond line")

    def big_batch_only(x):  # raises on the whole batch only: swept in chunks
        if x.shape[0] > 5000:
            raise MemoryError("too big")
        return stable_sigmoid(x)

    impls = [_impl("boom", "softmax", boom), _impl("shape", "sigmoid", lambda x: stable_sigmoid(x)[:-1]),
             _impl("gone", "sigmoid", stable_sigmoid, probe=lambda: "no such device"),
             _impl("chunked", "sigmoid", big_batch_only), registry.get("numpy.stable_sigmoid")]
    got = {r.impl: r for r in sweep(impls, ["bfloat16"])}
    assert got["t.boom"].verdict == "error" and "RuntimeError: planted failure" in got["t.boom"].message
    assert "\n" not in got["t.boom"].line() and "second line" not in got["t.boom"].message
    assert got["t.shape"].verdict == "wrong-shape"
    assert got["t.gone"].verdict == "unavailable" and got["t.gone"].message == "no such device"
    assert got["t.chunked"].passed and "chunks" in got["t.chunked"].notes[0] and got["t.chunked"].n_inputs == N_PATTERNS
    assert got["numpy.stable_sigmoid"].passed and got["numpy.stable_sigmoid"].n_inputs == N_PATTERNS


def test_non_finite_inputs_by_convention():
    """+inf: the limit convention passes like ieee's NaN; a swallowed NaN follows none."""
    def limit_softmax(x):
        out = stable_softmax(np.where(np.isposinf(x), 0, x)).astype(np.float32)
        pinf = np.isposinf(x)
        return np.where(pinf.any(axis=-1, keepdims=True), pinf, out).astype(x.dtype)

    def nan_swallow(x):
        return np.nan_to_num(stable_softmax(x), nan=0.5).astype(x.dtype)

    lim = sweep_impl(_impl("limit", "softmax", limit_softmax), "float16")
    assert lim.passed, lim.line()
    assert {c["class"]: c["convention"] for c in lim.nonfinite}["+inf"] == "limit"
    bad = sweep_impl(_impl("swallow", "softmax", nan_swallow), "float16")
    assert bad.verdict == "wrong-special" and bad.n_over == 0
    assert "x = +inf" in bad.message or "x = NaN" in bad.message
    nan = next(c for c in bad.nonfinite if c["class"] == "NaN")
    assert nan["unmatched"] == nan["patterns"] == 2 * 2046 and nan["output"] == ["0.5", "0.5"]


def test_rank_one_implementation_is_called_row_by_row():
    res = sweep_impl(_impl("rank1", "softmax", stable_softmax, ranks=(1,)), "float16")
    assert res.passed and res.n_inputs == 2 * N_PATTERNS and "one row at a time" in res.notes[0]


@pytest.mark.parametrize("argv,says", [
    (["--dtypes", "float32"], "too many bit patterns"),
    (["--dtypes", "float16,f16"], "dtype 'f16' is unknown"),
    (["--functions", "logsumexp"], "'logsumexp' is not swept"),
    (["--impls", "no.such.*"], "no implementation matches"),
    (["--functions", ","], "empty list"),
])
def test_usage_errors(argv, says, tmp_path, capsys):
    assert main(["sweep", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    assert not (tmp_path / "sweeps").exists()


def test_cli_writes_new_files_and_the_report_shows_them(tmp_path, capsys, monkeypatch):
    argv = ["sweep", "--impls", "numpy.stable_sigmoid", "--dtypes", "bfloat16", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("exact") and "numpy.stable_sigmoid sigmoid bfloat16" in out[0]
    assert out[-1].startswith("sweep: 1 of 1 within budget; page ")
    first = sorted((tmp_path / "sweeps").iterdir())
    before = {p.name: p.read_bytes() for p in first}
    assert main(argv) == 0
    capsys.readouterr()
    after = sorted((tmp_path / "sweeps").iterdir())
    assert len(after) == 4 and all(p.read_bytes() == before[p.name] for p in after if p.name in before)
    doc = json.loads(next(p for p in first if p.suffix == ".json").read_text())
    assert doc["format"] == "softmax-harness-sweep" and doc["results"][0]["n_inputs"] == N_PATTERNS
    page = next(p for p in after if p.suffix == ".html").read_text()
    assert "numpy.stable_sigmoid" in page and "<script src" not in page and "<link" not in page

    # a planted bug registered from a file: exit status 1
    (tmp_path / "mine.py").write_text(
        "import numpy as np\nfrom harness.impls.numpy_impls import stable_sigmoid\nfrom harness.records import Impl\n"
        "def halved(c):  # every finite input's result halved; the non-finite ones right\n"
        "    return (stable_sigmoid(c.logits) * np.where(np.isfinite(c.logits), 0.5, 1)).astype(c.logits.dtype)\n"
        "def impls():\n    return [Impl('mine.halved', 'user', 'sigmoid', halved)]\n")
    monkeypatch.setenv(registry.EXTRA_ENV, f"{tmp_path / 'mine.py'}:impls")
    registry._load.cache_clear()
    try:
        assert main(["sweep", "--impls", "mine.*", "--dtypes", "float16", "--out", str(tmp_path)]) == 1
    finally:
        monkeypatch.delenv(registry.EXTRA_ENV)
        registry._load.cache_clear()
    assert capsys.readouterr().out.startswith("out-of-bound  mine.halved sigmoid float16")


def test_main_report_picks_up_sweeps(tmp_path):
    fx = report_fixture.build(tmp_path / "results")
    assert main(["sweep", "--impls", "numpy.stable_sigmoid", "--dtypes", "float16", "--out", str(fx["root"])]) == 0
    path, model = render_with_model([fx["root"]], tmp_path / "index.html")
    assert [(s.impl, s.dtype, s.verdict) for s in model.sweeps] == [("numpy.stable_sigmoid", "float16", "faithful")]
    html = path.read_text()
    assert 'id="sweeps"' in html and "10 Exhaustive sweeps" in html
