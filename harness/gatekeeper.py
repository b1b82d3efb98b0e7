"""What a conformance test calls (the ``conformance`` fixture): run one
property for an implementation and dtype, record the Result, and gate it
against the baseline of known findings."""

from __future__ import annotations

import pytest

from . import verdicts
from .records import Case, Result
from .session import HarnessConfig


class Conformance:
    """What a conformance test calls: run a property, record, gate."""

    def __init__(self, h: HarnessConfig):
        self.h = h

    def env(self, impl) -> dict:
        return {"env_id": self.h.env_id, "budget": self.h.budget, "worker": self.h.worker}

    def unavailable(self, impl, dtype: str, prop: str) -> bool:
        ok, reason = impl.availability()
        if ok:
            return False
        self.h.write(Result(impl.id, impl.family, impl.function, prop, dtype, "-", "unavailable",
                            message=reason, device=impl.device, env=self.env(impl)))
        pytest.skip(f"unavailable: {reason}")
        return True

    def check(self, impl, dtype: str, prop: str) -> Result:
        from .conformance import explore
        from .results_store import quarantined

        q = quarantined(self.h.run_dir).get(impl.id)
        if q:  # crashed too often in this run: recorded, not run
            from .run_ledger import quarantine_result

            return self.gate(quarantine_result(self.h, impl, dtype, prop, q["crashes"], self.env(impl)))
        self.unavailable(impl, dtype, prop)
        from .conformance import FIXED

        if prop in FIXED:  # fixed inputs: one Result each, the last gated
            from .conformance import fixed

            results = fixed(impl, dtype, prop, self.env(impl), self.h.conventions)
            for r in results[:-1]:
                self._write_or_known(r)
            return self.gate(results[-1], others=results[:-1])
        res = explore(impl, dtype, prop, self.h.budget, self.h.gate, self.h.long_rows, env=self.env(impl),
                      seed=self.h.seed.value, database=self.h.seed.random)
        return self.gate(res)

    def _write_or_known(self, res: Result) -> None:
        if not verdicts.passes(res.verdict, self.h.gate):
            res.known = self.h.baseline.classify(res)
        self.h.write(res)

    def gate(self, res: Result, others: list | None = None) -> Result:
        failing = [r for r in (others or []) if not verdicts.passes(r.verdict, self.h.gate) and not r.known]
        if failing and verdicts.passes(res.verdict, self.h.gate):
            self.h.write(res)
            pytest.fail("\n".join(_failure_text(r) for r in failing), pytrace=False)
        if not verdicts.passes(res.verdict, self.h.gate):
            res.known = self.h.baseline.classify(res)
            if res.known is not None:
                self.h.write(res)
                pytest.xfail(f"known: {res.known} [{res.verdict}] {res.message}")
            self.h.write(res)
            pytest.fail(_failure_text(res), pytrace=False)
        self.h.write(res)
        return res


def _failure_text(res: Result) -> str:
    lines = [f"{res.impl} {res.function} {res.dtype} {res.property}: {res.verdict} (regime {res.regime})",
             f"  {res.message}"]
    if res.case:
        lines.append(f"  minimal case: {Case.from_json(res.case).short(12)}")
    if res.reproducer:
        lines.append(f"  reproduce: {res.reproducer[:600]}")
    if res.hypothesis and res.hypothesis.get("blob"):
        lines.append(f"  hypothesis: @reproduce_failure({res.hypothesis['blob']})")
    return "\n".join(lines)
