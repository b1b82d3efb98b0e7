"""The pytest plugin is loaded into every pytest session of the environment
(entry point pytest11).  A session that collects no conformance test must
see nothing of it: no parametrisation of its own tests, no header, no files,
no heavy imports."""

import os
import subprocess
import sys

OTHER_PROJECT = {
    # Fixtures named like ours: the plugin must not parametrize these tests.
    "conftest.py": "import pytest\n\n@pytest.fixture\ndef impl():\n    return 'theirs'\n\n"
                   "@pytest.fixture\ndef dtype():\n    return 'theirs'\n",
    "test_theirs.py": "def test_uses_impl_and_dtype(impl, dtype):\n    assert (impl, dtype) == ('theirs', 'theirs')\n\n"
                      "def test_plain():\n    pass\n",
}


def test_a_session_without_conformance_tests_sees_nothing_of_the_plugin(tmp_path):
    for name, text in OTHER_PROJECT.items():
        (tmp_path / name).write_text(text)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 passed" in r.stdout
    ours = [line for line in (r.stdout + r.stderr).splitlines()
            if "softmax" in line.lower() and not line.startswith("plugins:")]  # pytest lists every plugin
    assert ours == []  # no header, no summary
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OTHER_PROJECT)  # no results folder, no files


def test_loading_the_plugin_imports_nothing_heavy():
    code = ("import sys, harness.plugin; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'mpmath', 'oracles', 'hypothesis')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_plugin_keeps_its_state_in_the_config_stash():
    import harness.plugin as plugin
    from harness.session import HARNESS

    src = open(plugin.__file__, encoding="utf-8").read()
    assert "config._harness" not in src and "stash[HARNESS]" in src
    assert HARNESS is plugin.HARNESS
