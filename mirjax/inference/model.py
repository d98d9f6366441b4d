"""A trained model as a pure function of audio windows, loaded from a workdir alone (its `model_card.json`,
`config.json` and checkpoints), or from a registered pretrained model — never from the training data."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from mirjax.config import section_kwargs
from mirjax.errors import UserError
from mirjax.evaluation.averaging import average_predictions
from mirjax.frontend import make_frontend
from mirjax.frontend.registry import accepts as frontend_accepts
from mirjax.models import create_model
from mirjax.training import sharding
from mirjax.training.checkpoint import Checkpoints
from mirjax.training.model_card import read_card
from mirjax.training.optim import make_optimizer
from mirjax.training.state import create_train_state

# name -> loader() returning a LoadedModel; filled by plug-ins (e.g. musicnn's pretrained networks)
PRETRAINED: dict[str, Callable[[], LoadedModel]] = {}


def register_pretrained(name: str, loader: Callable[[], LoadedModel]) -> None:
    if name in PRETRAINED:
        raise ValueError(f"pretrained model {name!r} is already registered")
    PRETRAINED[name] = loader


@dataclasses.dataclass
class LoadedModel:
    """`frontend` and `model` with their `variables`; `card` says what the outputs are and what input they need."""
    card: dict[str, Any]
    frontend: Callable[[jax.Array], jax.Array]
    model: Any
    variables: Any
    source: str

    @property
    def outputs(self) -> list[str]:
        return list(self.card["outputs"])

    @property
    def sample_rate(self) -> int:
        return int(self.card["input"]["sample_rate"])

    @property
    def window_samples(self) -> int:
        return int(self.card["input"]["shape"][0])

    def scores(self, outputs: np.ndarray) -> np.ndarray:
        """Model outputs (n, outputs) → scores through the task's activation (probabilities for tags/classes)."""
        return np.asarray(average_predictions(np.asarray(outputs)[:, None], axis=1, mode="avg-probs",
                                              activation=self.card.get("activation", "sigmoid")))


def from_workdir(workdir: str, checkpoint: str = "best") -> LoadedModel:
    """The model trained in `workdir`, at its `best` (falling back to the latest) or `latest` checkpoint."""
    if not os.path.isdir(workdir):
        raise UserError(f"workdir {workdir} does not exist")
    if checkpoint not in ("best", "latest"):
        raise UserError(f"checkpoint must be best or latest, got {checkpoint!r}")
    card = read_card(workdir)
    if card["input"]["kind"] != "audio":
        raise UserError(f"{workdir} holds a model of '{card['input']['kind']}' inputs; tagging needs audio")
    with open(os.path.join(workdir, "config.json")) as f:
        config = ml_collections.ConfigDict(json.load(f))
    fe_kwargs = section_kwargs(config.frontend)
    if frontend_accepts(config.frontend.name, "sample_rate"):
        fe_kwargs.setdefault("sample_rate", card["input"]["sample_rate"])
    frontend = make_frontend(config.frontend.name, **fe_kwargs)
    model = create_model(config.model.name, len(card["outputs"]), **section_kwargs(config.model))
    tx, _ = make_optimizer(config.optim, config.train.num_steps)
    sample = frontend(jnp.zeros((1, *card["input"]["shape"]), jnp.float32))
    state = jax.jit(lambda: create_train_state(model, tx, sample, 0))()
    ckpts = Checkpoints(workdir, best_metric=card.get("best_metric") or "roc_auc_macro")
    try:
        which = "latest" if checkpoint == "best" and ckpts.best_step() is None else checkpoint
        if ckpts.latest_step() is None:
            raise UserError(f"no checkpoint in {workdir} (train first, or check --workdir)")
        state = ckpts.restore(state, which)
    finally:
        ckpts.close()
    return LoadedModel(card, frontend, model, jax.device_get(state.variables()), f"{workdir} ({which})")


def from_pretrained(name: str) -> LoadedModel:
    from mirjax import registry

    if name not in PRETRAINED:
        registry.load_plugins()
    if name not in PRETRAINED:
        raise UserError(f"unknown pretrained model '{name}'; available: {', '.join(sorted(PRETRAINED)) or 'none'}")
    return PRETRAINED[name]()


def load(workdir: str = "", pretrained: str = "", checkpoint: str = "best") -> LoadedModel:
    if bool(workdir) == bool(pretrained):
        raise UserError("give either --workdir DIR (a trained run) or --pretrained NAME")
    return from_workdir(workdir, checkpoint) if workdir else from_pretrained(pretrained)


class WindowRunner:
    """Runs windows `(n, samples)` through front-end and model in fixed-size batches (one compilation), jitted and
    sharded over the device mesh; `layers` also returns those layers' outputs (flax intermediates: submodule
    outputs by name, and values a model `sow`s), each averaged over all but its last (channel) axis."""

    def __init__(self, loaded: LoadedModel, batch_size: int = 32, layers: Sequence[str] = ()):
        self.loaded, self.layers = loaded, tuple(layers)
        self.mesh = sharding.make_mesh()
        n_dev = jax.device_count()
        self.batch_size = max(n_dev, -(-batch_size // n_dev) * n_dev)  # a multiple of the devices
        data, repl = sharding.batch_sharding(self.mesh), sharding.replicated(self.mesh)
        self.variables = sharding.replicate(loaded.variables, self.mesh)
        self._data = data
        self._step = jax.jit(self._apply, in_shardings=(repl, data))

    def _apply(self, variables, audio):
        features = self.loaded.frontend(audio)
        if not self.layers:
            return self.loaded.model.apply(variables, features, train=False), {}
        wanted = set(self.layers)
        out, state = self.loaded.model.apply(
            variables, features, train=False, mutable=["intermediates"],
            capture_intermediates=lambda mdl, method: method == "__call__" and "/".join(mdl.path) in wanted)
        found = {}
        for path, value in jax.tree_util.tree_flatten_with_path(state.get("intermediates", {}))[0]:
            name = _layer_name(path)
            if name in wanted:
                found[name] = value.mean(axis=tuple(range(1, value.ndim - 1))) if value.ndim > 2 else value
        missing = wanted - set(found)
        if missing:
            raise UserError(f"model '{self.loaded.card['model'].get('name')}' has no layer(s) "
                            f"{', '.join(sorted(missing))}; see `mirjax embed --list-layers`")
        return out, found

    def submit(self, windows: np.ndarray) -> Callable[[], tuple[np.ndarray, dict[str, np.ndarray]]]:
        """Dispatches one batch (at most `batch_size` windows) and returns at once; calling the result waits for
        the outputs. The caller can decode the next files meanwhile (JAX dispatches asynchronously)."""
        n = len(windows)
        batch = np.zeros((self.batch_size, windows.shape[1]), np.float32)
        batch[:n] = windows
        out, layers = self._step(self.variables, jax.make_array_from_process_local_data(self._data, batch))
        return lambda: (np.asarray(out)[:n], {k: np.asarray(v)[:n] for k, v in layers.items()})

    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return self.submit(windows)()

    def layer_names(self) -> list[str]:
        """Every submodule path of the model (what `layers` may name) and the values it sows."""
        features = self.loaded.frontend(jnp.zeros((1, self.loaded.window_samples), jnp.float32))
        _, state = self.loaded.model.apply(self.loaded.variables, features, train=False, mutable=["intermediates"],
                                           capture_intermediates=True)
        names = []
        for path, _ in jax.tree_util.tree_flatten_with_path(state.get("intermediates", {}))[0]:
            name = _layer_name(path)
            if name and name not in names:
                names.append(name)
        return names


def _layer_name(path) -> str:
    """'ConvBlock_0' for a captured submodule output ('ConvBlock_0', '__call__', 0), 'name' for a sown value."""
    keys = [str(k.key) for k in path if hasattr(k, "key")]
    return "/".join(keys[:-1] if keys and keys[-1] == "__call__" else keys)
