"""Model registry: `config.model.name` → a Flax module class, configured by the rest of `config.model`.

Every model maps time–frequency features `(batch, frames, bins)` (or raw audio `(batch, samples)`) to
logits `(batch, num_outputs)` and takes `train: bool` for batch norm and dropout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import flax.linen as nn

from mirjax.errors import UserError

MODELS: dict[str, type[nn.Module]] = {}


def register(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    def wrap(cls: type[nn.Module]) -> type[nn.Module]:
        if name in MODELS:
            raise UserError(f"model '{name}' registered twice")
        MODELS[name] = cls
        return cls
    return wrap


def create_model(name: str, num_outputs: int, **kwargs: Any) -> nn.Module:
    """Instantiate a registered model; unknown names or kwargs fail with one line."""
    if name not in MODELS:
        raise UserError(f"unknown model '{name}'; registered: {', '.join(sorted(MODELS))}")
    cls = MODELS[name]
    fields = {f.name for f in dataclasses.fields(cls) if f.init and f.name not in ("parent", "name")}
    unknown = sorted(set(kwargs) - fields)
    if unknown:
        raise UserError(f"unknown config key 'model.{unknown[0]}' for model '{name}'; "
                         f"valid: {', '.join(sorted(fields - {'num_outputs'}))}")
    kwargs = {k: tuple(map(tuple, v)) if _is_nested_seq(v) else v for k, v in kwargs.items()}
    return cls(num_outputs=num_outputs, **kwargs)


def _is_nested_seq(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and isinstance(v[0], (list, tuple))


# Register the built-in families (import for side effect).
from mirjax.models import beat_convnet, choi_structures, compact_convnet, dieleman, galaxy, kcnn, mlp, musicnn  # noqa: E402,F401
