"""`softmax-harness vectors`: the exported corpus is what an outside consumer
needs (hex inputs, correctly rounded outputs, budgets), deterministic, and
judges a correct and a broken kernel the way the harness does."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.cli import main
from oracles import FORMATS
from oracles import softmax as oracle_softmax


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("vec")
    assert main(["vectors", "--out", str(out), "--functions", "softmax", "--dtypes", "float16,float64",
                 "--per-regime", "1"]) == 0
    return out


def _load(corpus, stem):
    return json.loads((corpus / f"{stem}.json").read_text())


def _judge(kernel, doc) -> bool:
    """What a consumer outside Python does: parse hex, run, compare in ulps."""
    dt = FORMATS[doc["dtype"]].dtype
    for c in doc["cases"]:
        x = np.array([float.fromhex(h) for h in c["input_hex"]]).reshape(c["shape"]).astype(dt)
        want = np.array([float.fromhex(h) for h in c["expected_hex"]])
        hi = np.array([float.fromhex(h) for h in c["exact_hi_hex"]])
        with np.errstate(all="ignore"):
            got = kernel(x, c["axis"]).astype(np.float64).reshape(-1)
        special = ~np.isfinite(want)
        if not np.array_equal(np.isnan(got[special]), np.isnan(want[special])):
            return False
        with np.errstate(invalid="ignore"):  # spacing(inf) is NaN: those are the special entries, masked below
            ulp = np.maximum(np.spacing(np.abs(hi).astype(dt)).astype(np.float64), FORMATS[doc["dtype"]].min_subnormal)
        err = np.abs(got[~special] - hi[~special]) / ulp[~special]
        if not (err <= np.array(c["budget_bounded_ulps"], dtype=np.float64)[~special]).all():
            return False
    return True


def test_manifest_and_files(corpus):
    m = json.loads((corpus / "manifest.json").read_text())
    assert m["format"] == "softmax-harness-vectors" and m["version"] == 1
    assert {f["dtype"] for f in m["files"]} == {"float16", "float64"}
    for f in m["files"]:
        assert (corpus / f["json"]).is_file() and (corpus / f["npz"]).is_file()
        assert len(f["regimes"]) >= 8  # every regime contributes
    npz = np.load(corpus / "softmax-float16.npz")
    doc = _load(corpus, "softmax-float16")
    assert np.array_equal(npz["0_expected"].reshape(-1), [float.fromhex(h) for h in doc["cases"][0]["expected_hex"]],
                          equal_nan=True)


def test_expected_is_the_oracle(corpus):
    for stem in ("softmax-float16", "softmax-float64"):
        doc = _load(corpus, stem)
        dt = FORMATS[doc["dtype"]].dtype
        for c in doc["cases"][:6]:
            x = np.array([float.fromhex(h) for h in c["input_hex"]]).reshape(c["shape"]).astype(dt)
            assert [h.lower() for h in c["input_bits"]] == [f"{int(b):04x}" if dt.itemsize == 2 else f"{int(b):016x}"
                                                            for b in x.view({2: np.uint16, 8: np.uint64}[dt.itemsize])
                                                            .reshape(-1)]
            want = oracle_softmax(x, axis=c["axis"]).astype(np.float64).reshape(-1)
            assert np.array_equal(want, [float.fromhex(h) for h in c["expected_hex"]], equal_nan=True)


def test_consumer_judges_correct_and_broken(corpus):
    def stable(x, axis):
        w = x.astype(np.float32) if x.dtype == np.float16 else x
        e = np.exp(w - w.max(axis=axis, keepdims=True))
        return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)

    def unshifted(x, axis):
        e = np.exp(x)
        return e / e.sum(axis=axis, keepdims=True)

    for stem in ("softmax-float16", "softmax-float64"):
        doc = _load(corpus, stem)
        assert _judge(stable, doc), stem
        assert not _judge(unshifted, doc), stem


def test_deterministic(corpus, tmp_path):
    assert main(["vectors", "--out", str(tmp_path), "--functions", "softmax", "--dtypes", "float16",
                 "--per-regime", "1"]) == 0
    assert (tmp_path / "softmax-float16.json").read_bytes() == (corpus / "softmax-float16.json").read_bytes()


def test_usage_errors(tmp_path, capsys):
    assert main(["vectors", "--out", str(tmp_path), "--functions", "softmax_vjp"]) == 2
    assert main(["vectors", "--out", str(tmp_path), "--dtypes", "float8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "softmax_vjp" in err[0] and "float8" in err[1]
