"""The property registry is the one place a property is declared: a decorated
function becomes a conformance test, a `check` task and a replayable name."""

import subprocess
import sys

import pytest

from harness.errors import UsageError
from harness.properties import PROPERTIES, Property, applies, register
from harness.records import FUNCTIONS

# A property registered in a fresh process, then the suite collected and check's task list read.
NEW_PROPERTY = """
import sys
import pytest
from harness.properties import register
from harness.records import Finding

@register("demo_always_exact", ("softmax",))
def demo_always_exact(impl, case):
    '''A demonstration property: every case passes.'''
    return Finding("demo_always_exact", "exact", message="demo")

from harness.commands.check import _tasks
print("TASKS", [t for t in _tasks("softmax", ["float32"]) if t[1] == "demo_always_exact"])
sys.exit(pytest.main(["--pyargs", "harness.suite", "--collect-only", "-q", "-p", "no:cacheprovider",
                      "--harness-impls", "numpy.stable_softmax,numpy.stable_logsumexp", "--harness-dtypes", "float32"]))
"""


def test_one_decorated_function_is_a_suite_test_and_a_check_task(tmp_path):
    r = subprocess.run([sys.executable, "-c", NEW_PROPERTY], capture_output=True, text=True, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TASKS [('float32', 'demo_always_exact')]" in r.stdout
    assert "test_properties.py::test_demo_always_exact[numpy.stable_softmax-float32]" in r.stdout
    # applies only to the functions it names
    assert "test_demo_always_exact[numpy.stable_logsumexp-float32]" not in r.stdout
    for name in PROPERTIES:  # and every registered property is a test of the suite
        assert f"test_properties.py::test_{name}[" in r.stdout or not any(
            applies(name, f) for f in ("softmax", "logsumexp")), name


def test_registration_is_validated_up_front():
    with pytest.raises(UsageError, match="unknown function 'softmaxx'"):
        register("demo_typo", ("softmaxx",))
    with pytest.raises(UsageError, match="registered twice"):
        register("accuracy")(lambda impl, case: None)
    assert "demo_typo" not in PROPERTIES


def test_the_registry_says_what_applies_where():
    assert list(PROPERTIES)[:2] == ["accuracy", "contract"]  # the order tests and check tasks run in
    for p in PROPERTIES.values():
        assert isinstance(p, Property) and p.doc, p.name  # every property explains itself (listings, test docs)
        assert p.functions is None or set(p.functions) <= set(FUNCTIONS)
    assert applies("jacobian", "softmax_jacobian") and not applies("jacobian", "softmax")
    assert all(applies("accuracy", f) for f in FUNCTIONS)
