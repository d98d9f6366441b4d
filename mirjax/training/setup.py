"""What training and evaluation both build from a config: task, dataset, front-end, model, mesh, jitted predict."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax
import tensorflow_datasets as tfds

from mirjax import config as config_lib, tasks
from mirjax.data import pipeline
from mirjax.errors import UserError
from mirjax.frontend import make_frontend
from mirjax.frontend.registry import accepts as frontend_accepts
from mirjax.models import create_model
from mirjax.training import sharding
from mirjax.training.checkpoint import Checkpoints
from mirjax.training.optim import make_optimizer
from mirjax.training.predict import predict_split
from mirjax.training.state import TrainState, create_train_state
from mirjax.training.steps import make_predict_step, with_compute_dtype


@dataclasses.dataclass
class Experiment:
    config: ml_collections.ConfigDict
    task: tasks.Task
    builder: tfds.core.DatasetBuilder
    info: pipeline.DatasetInfo
    frontend: Callable[[jax.Array], jax.Array]
    model: nn.Module  # for training: computes in `train.compute_dtype` (mirjax.training.steps.with_compute_dtype)
    mesh: jax.sharding.Mesh
    predict_fn: Callable[[Any, jax.Array], jax.Array]

    @property
    def best_metric(self) -> str:
        return self.task.best_metric(self.config.train.best_metric)

    def sample_input(self) -> jax.Array:
        return self.frontend(jnp.zeros((1,) + self.info.input_shape, jnp.float32))

    def init_state(self, tx: optax.GradientTransformation) -> TrainState:
        init_seed = self.config.train.init_seed if self.config.train.init_seed >= 0 else self.config.seed
        state = jax.jit(lambda: create_train_state(self.model, tx, self.sample_input(), init_seed))()
        return sharding.replicate(state, self.mesh)

    def train_batches(self, start_step: int = 0):
        c = self.config
        return pipeline.train_batches(c.dataset, self.builder, self.info, c.train.batch_size, c.seed, start_step,
                                      self.task.attach_labels)

    def predict(self, variables: Any, split: str, num_crops: int, progress: bool = True):
        """(view outputs (clips, views, outputs), labels) of every example of `split`."""
        c = self.config
        return predict_split(c.dataset, self.builder, split, self.predict_fn, variables, self.mesh, num_crops,
                             c.eval.batch_size, progress, self.task.attach_labels)

    def score(self, views, labels, split: str) -> tuple[Any, dict[str, Any]]:
        """(scores (clips, outputs), the task's metrics) of view outputs averaged with `eval.averaging`."""
        scores = self.task.scores(views, self.config.eval.averaging)
        return scores, self.task.metrics(labels, scores, self.info.label_names,
                                         tasks.Context(self.config.dataset, split))


def build_experiment(config: ml_collections.ConfigDict) -> Experiment:
    config_lib.validate(config)
    task = tasks.get(config.dataset.task)
    task.loss(config.train.loss)  # a loss that does not fit the task fails before any work
    task.check(config.dataset, None)  # so do the task's own inputs (e.g. a missing targets file)
    builder = pipeline.get_builder(config.dataset)
    info = pipeline.dataset_info(config.dataset, builder,
                                 task.label_names(config.dataset) if task.label_names else None)
    task.check(config.dataset, info.split_sizes)
    fe_kwargs = config_lib.section_kwargs(config.frontend)
    if info.sample_rate and frontend_accepts(config.frontend.name, "sample_rate"):
        fe_kwargs.setdefault("sample_rate", info.sample_rate)  # an omitted rate is the dataset's, not a default
        if fe_kwargs["sample_rate"] != info.sample_rate:
            raise config_lib.ConfigError(f"config key 'frontend.sample_rate'={fe_kwargs['sample_rate']} differs "
                                         f"from the dataset's {info.sample_rate} Hz")
    frontend = make_frontend(config.frontend.name, **fe_kwargs)
    model = create_model(config.model.name, info.num_outputs, **config_lib.section_kwargs(config.model))
    train_model = with_compute_dtype(model, config.train.compute_dtype)  # an unknown dtype fails here, early
    mesh = sharding.make_mesh()
    data = sharding.batch_sharding(mesh)
    predict_fn = jax.jit(make_predict_step(model, frontend),
                         in_shardings=(sharding.replicated(mesh), data), out_shardings=data)
    return Experiment(config, task, builder, info, frontend, train_model, mesh, predict_fn)


def restore_for_eval(exp: Experiment, workdir: str, which: str) -> tuple[TrainState, str, int]:
    """Restore the best (falling back to the latest) or the latest checkpoint of `workdir`."""
    if which not in ("best", "latest"):
        raise config_lib.ConfigError(f"config key 'eval.checkpoint' must be best or latest, got {which!r}")
    if not os.path.isdir(workdir):
        raise FileNotFoundError(f"workdir {workdir} does not exist")
    ckpts = Checkpoints(workdir, best_metric=exp.best_metric)
    try:
        if which == "best" and ckpts.best_step() is None:
            which = "latest"
        if ckpts.latest_step() is None:
            raise UserError(f"no checkpoint in {workdir} (train first, or check --workdir)")
        # Same optimizer as training, so the checkpoint's tree matches exactly.
        tx, _ = make_optimizer(exp.config.optim, exp.config.train.num_steps)
        state = ckpts.restore(exp.init_state(tx), which)
    finally:
        ckpts.close()
    return state, which, int(state.step)
