"""Optax recipes chosen by config: learning-rate schedules and optimizers, both small registries."""

from __future__ import annotations

import re
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


def _param_path(path) -> str:
    return "/".join(str(getattr(k, "key", k)) for k in path)


def decay_mask(params: Any, which: str = "weights") -> Any:
    """True for the parameters that get weight decay: `weights` = kernels and embeddings, not biases or norm
    scales/offsets; `all` = every parameter (an L2 term on all of them, as in Zhang et al.'s Eq. 6)."""
    if which not in DECAY:
        raise UserError(f"unknown optim.decay '{which}'; valid: {', '.join(DECAY)}")

    def keep(path, leaf):
        name = str(getattr(path[-1], "key", path[-1]))
        return which == "all" or (leaf.ndim > 1 and name not in ("bias", "scale"))
    return jax.tree_util.tree_map_with_path(keep, params)


DECAY = ("weights", "all")


def frozen_mask(params: Any, pattern: str) -> Any:
    """True for the parameters whose path ("Dense_0/kernel", "table_0", …) matches the regex `pattern`."""
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise UserError(f"optim.frozen {pattern!r} is not a regular expression: {e}") from None
    mask = jax.tree_util.tree_map_with_path(lambda path, _: bool(rx.search(_param_path(path))), params)
    if not any(jax.tree.leaves(mask)):
        names = [_param_path(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
        raise UserError(f"optim.frozen {pattern!r} matches no parameter; parameters: {', '.join(names[:12])}"
                        + (" …" if len(names) > 12 else ""))
    return mask


def _sgd(c, lr):
    # Classic SGD weight decay (as in torch.optim.SGD): the decay term joins the gradient before momentum.
    sgd = optax.sgd(lr, momentum=c.momentum or None, nesterov=c.nesterov and bool(c.momentum))
    if c.weight_decay > 0:
        return optax.chain(optax.add_decayed_weights(c.weight_decay, mask=lambda p: decay_mask(p, c.decay)), sgd)
    return sgd


def _adam(c, lr):
    # Decoupled weight decay (AdamW) when asked for, so that decay is not rescaled by Adam's moments.
    if c.weight_decay > 0:
        return optax.adamw(lr, weight_decay=c.weight_decay, mask=lambda p: decay_mask(p, c.decay))
    return optax.adam(lr)


OPTIMIZERS: dict[str, Callable[[ml_collections.ConfigDict, optax.Schedule], optax.GradientTransformation]] = {
    "sgd": _sgd, "adam": _adam, "adamw": _adam}


def make_optimizer(c: ml_collections.ConfigDict, num_steps: int) -> tuple[optax.GradientTransformation,
                                                                          optax.Schedule]:
    """Optimizer for `config.optim`: weight decay on the parameters `optim.decay` names; the parameters matching
    `optim.frozen` (a regex over parameter paths, "" = none) get zero updates, weight decay included."""
    if c.schedule not in SCHEDULES:
        raise UserError(f"unknown optim.schedule '{c.schedule}'; valid: {', '.join(SCHEDULES)}")
    if c.name not in OPTIMIZERS:
        raise UserError(f"unknown optim.name '{c.name}'; valid: {', '.join(OPTIMIZERS)}")
    schedule = SCHEDULES[c.schedule](c, num_steps)
    parts = []
    if c.grad_clip_norm > 0:
        parts.append(optax.clip_by_global_norm(c.grad_clip_norm))
    parts.append(OPTIMIZERS[c.name](c, schedule))
    if c.frozen:
        parts.append(optax.masked(optax.set_to_zero(), lambda p: frozen_mask(p, c.frozen)))
    return optax.chain(*parts), schedule
