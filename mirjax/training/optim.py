"""Optax recipes chosen by config: learning-rate schedules and optimizers, both small registries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import ml_collections
import optax

from mirjax.errors import UserError


def parse_piecewise(spec: Mapping[Any, float] | str) -> dict[int, float]:
    """Dieleman-style {step: lr} (or "0:0.01,500:0.001" from the command line) → sorted dict."""
    if isinstance(spec, str):
        items = [p.split(":") for p in spec.split(",") if p.strip()]
        spec = {int(s): float(v) for s, v in items}
    out = {int(s): float(v) for s, v in dict(spec).items()}
    if 0 not in out:
        raise UserError("optim.lr_schedule must give the learning rate at step 0, e.g. {0: 0.01, 500: 0.001}")
    return dict(sorted(out.items()))


def _constant(c: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule:
    return optax.constant_schedule(c.learning_rate)


def _piecewise(c: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule:
    table = parse_piecewise(c.lr_schedule.to_dict() if hasattr(c.lr_schedule, "to_dict") else c.lr_schedule)
    init = table.pop(0)
    scales, prev = {}, init
    for step, lr in table.items():  # optax wants multiplicative factors at each boundary
        scales[step] = lr / prev
        prev = lr
    return optax.piecewise_constant_schedule(init, scales)


def _warmup_cosine(c: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule:
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=c.learning_rate, warmup_steps=c.warmup_steps,
        decay_steps=max(num_steps, c.warmup_steps + 1), end_value=0.0)


SCHEDULES: dict[str, Callable[[ml_collections.ConfigDict, int], optax.Schedule]] = {
    "constant": _constant, "piecewise": _piecewise, "warmup_cosine": _warmup_cosine}


def decay_mask(params: Any) -> Any:
    """True for weights that get weight decay: kernels and embeddings, not biases or norm scales/offsets."""
    def keep(path, leaf):
        name = str(getattr(path[-1], "key", path[-1]))
        return leaf.ndim > 1 and name not in ("bias", "scale")
    return jax.tree_util.tree_map_with_path(keep, params)


def _sgd(c, lr):
    # Classic SGD weight decay (as in torch.optim.SGD): the decay term joins the gradient before momentum.
    sgd = optax.sgd(lr, momentum=c.momentum or None, nesterov=c.nesterov and bool(c.momentum))
    if c.weight_decay > 0:
        return optax.chain(optax.add_decayed_weights(c.weight_decay, mask=decay_mask), sgd)
    return sgd


def _adam(c, lr):
    # Decoupled weight decay (AdamW) when asked for, so that decay is not rescaled by Adam's moments.
    if c.weight_decay > 0:
        return optax.adamw(lr, weight_decay=c.weight_decay, mask=decay_mask)
    return optax.adam(lr)


OPTIMIZERS: dict[str, Callable[[ml_collections.ConfigDict, optax.Schedule], optax.GradientTransformation]] = {
    "sgd": _sgd, "adam": _adam, "adamw": _adam}


def make_optimizer(c: ml_collections.ConfigDict, num_steps: int) -> tuple[optax.GradientTransformation,
                                                                          optax.Schedule]:
    """Optimizer for `config.optim`; weight decay is masked off biases and BN parameters."""
    if c.schedule not in SCHEDULES:
        raise UserError(f"unknown optim.schedule '{c.schedule}'; valid: {', '.join(SCHEDULES)}")
    if c.name not in OPTIMIZERS:
        raise UserError(f"unknown optim.name '{c.name}'; valid: {', '.join(OPTIMIZERS)}")
    schedule = SCHEDULES[c.schedule](c, num_steps)
    parts = []
    if c.grad_clip_norm > 0:
        parts.append(optax.clip_by_global_norm(c.grad_clip_norm))
    parts.append(OPTIMIZERS[c.name](c, schedule))
    return optax.chain(*parts), schedule
