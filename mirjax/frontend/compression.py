"""Log compressions of (…, frames, bins) spectrograms.

``power_to_db`` / ``amplitude_to_db`` follow librosa, except that ``top_db`` clips each example
at ``max − top_db`` where the max is taken over that example's last two axes (frames, bins),
not over the whole batch — so a batch's result never depends on the other clips in it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from mirjax.errors import UserError

RefSpec = float | Callable[[jax.Array], jax.Array]


def _per_example(fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """Apply a scalar-valued reduction ``fn`` to each ``(frames, bins)`` slab; result broadcasts against ``x``."""
    if x.ndim < 2:
        return jnp.asarray(fn(x))
    lead = x.shape[:-2]
    flat = x.reshape((-1,) + x.shape[-2:])
    return jax.vmap(fn)(flat).reshape(lead + (1, 1))


def power_to_db(
    S: jax.Array,
    ref: RefSpec = 1.0,
    amin: float = 1e-10,
    top_db: float | None = 80.0,
) -> jax.Array:
    """Power (…, frames, bins) → decibels ``10·log10(max(amin, S) / max(amin, ref))``.

    ``ref`` is a number or a callable (e.g. ``jnp.max``) evaluated per example over (frames, bins).
    ``top_db`` (non-negative, or None to disable) floors each example at its own peak − ``top_db`` dB.
    """
    if amin <= 0:
        raise UserError("amin must be strictly positive")
    S = jnp.asarray(S)
    if jnp.iscomplexobj(S):
        S = jnp.abs(S)  # like librosa: phase is discarded
    if callable(ref):
        ref_value = _per_example(ref, S)
    else:
        ref_value = jnp.abs(jnp.asarray(ref, dtype=S.dtype))
    log_spec = 10.0 * jnp.log10(jnp.maximum(amin, S))
    log_spec = log_spec - 10.0 * jnp.log10(jnp.maximum(amin, ref_value))
    if top_db is not None:
        if top_db < 0:
            raise UserError("top_db must be non-negative")
        if log_spec.ndim >= 2:
            peak = jnp.max(log_spec, axis=(-2, -1), keepdims=True)
        else:
            peak = jnp.max(log_spec)
        log_spec = jnp.maximum(log_spec, peak - top_db)
    return log_spec


def amplitude_to_db(
    S: jax.Array,
    ref: RefSpec = 1.0,
    amin: float = 1e-5,
    top_db: float | None = 80.0,
) -> jax.Array:
    """Magnitude (…, frames, bins) → decibels ``20·log10(max(amin, |S|) / ref)``, per-example ``top_db``."""
    magnitude = jnp.abs(jnp.asarray(S))
    if callable(ref):
        ref_value = _per_example(ref, magnitude)
    else:
        ref_value = jnp.abs(jnp.asarray(ref, dtype=magnitude.dtype))
    return power_to_db(jnp.square(magnitude), ref=ref_value**2, amin=amin**2, top_db=top_db)


def log1p_compress(x: jax.Array, C: float = 1e4) -> jax.Array:
    """``log(1 + C·x)`` (natural log; Dieleman's spectrogram compression). Input must be ≥ 0."""
    return jnp.log1p(C * x)


def log10_compress(x: jax.Array, C: float = 1e4) -> jax.Array:
    """``log10(1 + C·x)`` (musicnn's compression). Input must be ≥ 0."""
    # log1p keeps precision for small C·x; a Python float divisor keeps x's dtype.
    return jnp.log1p(C * x) / math.log(10.0)
