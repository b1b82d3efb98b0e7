"""The dtypes the harness judges, in one place: their order (narrowest first,
as oracles.FORMATS lists them) and their short names."""

from __future__ import annotations

from oracles import FORMATS

DTYPES: tuple[str, ...] = tuple(FORMATS)  # float16, bfloat16, float32, float64
HALF = ("float16", "bfloat16")
SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64"}
