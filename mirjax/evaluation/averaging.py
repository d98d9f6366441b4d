"""Test-time augmentation and ensemble averaging of predictions (Dieleman's kaggle-ndsb modes).

Predictions of several views (crops, transforms) or models are stacked along one ``axis`` as
pre-activation logits and combined into probabilities by one of three modes:

* ``avg-probs``  -- arithmetic mean of the activated probabilities.
* ``avg-logits`` -- activation of the mean logits.
* ``geometric``  -- geometric mean of the probabilities, computed in log space so that tiny
  probabilities do not underflow. For ``softmax`` it is renormalised over the classes (last axis);
  this makes it mathematically equal to ``avg-logits``, as the per-view log-normaliser is constant
  over classes. For ``sigmoid`` it is the plain per-tag geometric mean ``prod_v p_v ** (1/V)``, *not*
  renormalised against ``1 - p`` (that would again reduce to ``avg-logits``); by the AM-GM
  inequality it is never larger than ``avg-probs``.

All functions work on numpy arrays (returning numpy) and on JAX arrays (returning JAX, jit-able).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mirjax.errors import UserError

__all__ = ["AVERAGING_MODES", "ACTIVATIONS", "average_predictions", "evenly_spaced_offsets"]


def _xp(x):
    """Array namespace of ``x``: jax.numpy for JAX arrays/tracers, numpy otherwise."""
    if type(x).__module__.startswith(("jax", "jaxlib")):
        import jax.numpy as jnp  # Imported lazily so numpy-only users do not pay for JAX.

        return jnp
    return np


def _log_sigmoid(x, xp):
    # log(sigmoid(x)) = -softplus(-x), stable for large |x|.
    return -xp.logaddexp(0.0, -x)


def _log_softmax(x, xp):
    shifted = x - xp.max(x, axis=-1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))


# Activation name -> log-probability function (probabilities are exp of it).
ACTIVATIONS: dict[str, Callable] = {"sigmoid": _log_sigmoid, "softmax": _log_softmax}


def _avg_probs(logits, axis, log_act, xp):
    return xp.mean(xp.exp(log_act(logits, xp)), axis=axis)


def _avg_logits(logits, axis, log_act, xp):
    return xp.exp(log_act(xp.mean(logits, axis=axis), xp))


def _geometric(logits, axis, log_act, xp):
    probs = xp.exp(xp.mean(log_act(logits, xp), axis=axis))
    if log_act is _log_softmax:
        probs = probs / xp.sum(probs, axis=-1, keepdims=True)
    return probs


# Mode name -> fn(logits, axis, log_activation, xp) -> probabilities.
AVERAGING_MODES: dict[str, Callable] = {
    "avg-probs": _avg_probs,
    "avg-logits": _avg_logits,
    "geometric": _geometric,
}


def average_predictions(logits, axis: int = 0, mode: str = "avg-probs", activation: str = "sigmoid"):
    """Combines per-view/per-model logits into probabilities.

    Args:
      logits: array with views (or models) along ``axis`` and classes/tags on the last axis,
        e.g. ``(n_views, n_examples, n_tags)``.
      axis: the views axis, reduced away; must not be the class axis for softmax.
      mode: one of ``AVERAGING_MODES`` (``avg-probs``, ``avg-logits``, ``geometric``).
      activation: ``sigmoid`` (independent tags), ``softmax`` (over the last axis), or ``identity``
        (regression outputs, e.g. predicted latent factors: the mean over views whatever the mode).
    Returns:
      probabilities with ``axis`` removed, e.g. ``(n_examples, n_tags)``; same array library as input.
    """
    if activation == "identity":  # regression outputs: every mode is the plain mean over the views
        xp = _xp(logits)
        return xp.mean(xp.asarray(logits, dtype=xp.float32), axis=axis)
    if mode not in AVERAGING_MODES:
        raise UserError(f"unknown averaging mode {mode!r}; valid modes: {', '.join(AVERAGING_MODES)}")
    if activation not in ACTIVATIONS:
        raise UserError(f"unknown activation {activation!r}; valid activations: {', '.join(ACTIVATIONS)}")
    xp = _xp(logits)
    logits = xp.asarray(logits)
    if not xp.issubdtype(logits.dtype, xp.floating):
        logits = logits.astype(xp.float32)
    ndim = logits.ndim
    if not -ndim <= axis < ndim:
        raise UserError(f"axis {axis} out of range for logits of shape {logits.shape}")
    if activation == "softmax" and axis % ndim == ndim - 1:
        raise UserError("softmax normalises over the last axis, so the views axis cannot be the last one")
    return AVERAGING_MODES[mode](logits, axis, ACTIVATIONS[activation], xp)


def evenly_spaced_offsets(num_samples: int, crop_samples: int, k: int) -> np.ndarray:
    """Start offsets ``(k,)`` int64 of ``k`` crops of ``crop_samples`` spread evenly over a clip.

    The first crop starts at 0 and the last one ends at ``num_samples`` (offsets rounded to the
    nearest sample). A clip no longer than one crop gives all offsets 0 (pad it to the crop length).
    """
    if k < 1:
        raise UserError(f"k must be >= 1, got {k}")
    if crop_samples < 1 or num_samples < 0:
        raise UserError(f"need crop_samples >= 1 and num_samples >= 0, got {crop_samples}, {num_samples}")
    last = max(num_samples - crop_samples, 0)
    if k == 1:
        return np.zeros(1, dtype=np.int64)
    return np.rint(np.linspace(0, last, k)).astype(np.int64)
