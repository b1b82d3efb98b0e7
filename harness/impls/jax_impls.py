"""JAX implementations, on the CPU and (when present) on a GPU.

x64 is chosen per process by JAX_ENABLE_X64 and is part of every id.  Without
it JAX silently computes float64 input in float32 and returns float32.  That
is not hidden: float64 is declared with no upcast, so the contract property
reports `wrong-dtype`.  JAX is imported inside the adapters.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..modes import x64_mode
from ..records import Case, Impl


@cache
def _gpu_probe() -> str | None:
    import jax

    try:
        return None if jax.devices("gpu") else "jax: no CUDA device"
    except RuntimeError:
        return "jax: no CUDA device (jax has no GPU backend here)"


def _run(fn, dev: str):
    """fn(jax, x, case) -> array, with x (and extras) committed to ``dev``."""
    def call(c: Case) -> np.ndarray:
        import jax

        d = jax.devices(dev)[0]
        put = lambda a: jax.device_put(a, d)  # noqa: E731
        return np.asarray(fn(jax, put(c.logits), c, put))

    return call


# The transforms run under jax.jit, as training code runs them: one XLA
# compile per shape, where eager tracing compiles each primitive per shape
# (measured: 0.6 s against 0.1 s a new shape, on the ci budget's many lengths).
@cache
def _jitted(kind: str, axis: int):
    import jax

    if kind == "jacrev":
        return jax.jit(jax.vmap(jax.jacrev(lambda r: jax.nn.softmax(r))))

    def vjp(x, g):
        _, pull = jax.vjp(lambda t: jax.nn.softmax(t, axis=axis), x)
        return pull(g)[0]

    return jax.jit(vjp)


def _jacrev(jax, x, c: Case, put):
    k = x.shape[-1] if x.ndim else 1
    jac = _jitted("jacrev", -1)(x.reshape(-1, k))
    return jac.reshape(tuple(x.shape) + (k,))


def _vjp(jax, x, c: Case, put):
    return _jitted("vjp", c.norm_axis)(x, put(c.upstream).astype(x.dtype))


def impls() -> list[Impl]:
    mode = x64_mode()
    out = []
    for dev, suffix in (("cpu", ""), ("gpu", ",cuda")):
        m = f"[x64={mode}{suffix}]"
        note = "computes in the input dtype" + ("" if mode == "on" else "; float64 becomes float32 (x64 off)")
        base = dict(family="jax", requires=("jax",), device="cpu" if dev == "cpu" else "cuda",
                    probe=None if dev == "cpu" else _gpu_probe, notes=note)
        out += [
            Impl(f"jax.nn.softmax{m}", function="softmax",
                 fn=_run(lambda jax, x, c, put: jax.nn.softmax(x, axis=c.norm_axis), dev), **base),
            Impl(f"jax.nn.softmax.where{m}", function="masked_softmax",
                 fn=_run(lambda jax, x, c, put: jax.nn.softmax(x, axis=c.norm_axis, where=put(c.mask)), dev),
                 supports=lambda c: None if c.mask is not None else "needs a mask", profile="masked",
                 **{**base, "notes": base["notes"] + "; where=mask: masked and fully masked positions give 0, "
                    "but an all -inf unmasked slice is NaN"}),
            Impl(f"jax.nn.log_softmax{m}", function="log_softmax",
                 fn=_run(lambda jax, x, c, put: jax.nn.log_softmax(x, axis=c.norm_axis), dev), **base),
            Impl(f"jax.nn.logsumexp{m}", function="logsumexp",
                 fn=_run(lambda jax, x, c, put: jax.nn.logsumexp(x, axis=c.norm_axis), dev), **base),
            Impl(f"jax.nn.sigmoid{m}", function="sigmoid", fn=_run(lambda jax, x, c, put: jax.nn.sigmoid(x), dev),
                 partner=f"jax.nn.softmax{m}",
                 **base),
            Impl(f"jax.jacrev.softmax{m}", function="softmax_jacobian", fn=_run(_jacrev, dev),
                 last_axis_only=True, **{**base, "notes": base["notes"] + "; jit(vmap(jacrev(softmax))) over rows"}),
            Impl(f"jax.vjp.softmax{m}", function="softmax_vjp", fn=_run(_vjp, dev),
                 **{**base, "notes": base["notes"] + "; jit(vjp(softmax))"}),
        ]
    return out
