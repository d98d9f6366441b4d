"""Supervised learners on pooled feature vectors (Dieleman thesis §3.6.2–§3.6.4, Table 3.1):

- `train_mlp`: one hidden layer of ReLUs (1000) and sigmoid (tags) or softmax (genres) outputs, trained on
  pooling windows with minibatch SGD + weight decay, early stopping on the validation clips (min / max epochs,
  patience) or a fixed number of epochs (GTZAN: 100). A clip's prediction is the mean of its windows'
  probabilities.
- `train_nca`: Neighbourhood Components Analysis, a linear 50-d projection of the clip vector (the mean of its
  windows; the mean of the projected windows is the projection of the mean) trained on minibatches so that
  clips of the same class (artist; on scorebank, work or composer) are neighbours. Its metric is NCA's
  probability of correct classification on the held-out clips, whose neighbours are each other.

Features are standardised with the training windows' mean and standard deviation before either learner (the
thesis does not say; plain SGD at learning rate 0.1 needs inputs of unit scale). Every epoch is one jitted
`lax.scan` over the minibatches of a fresh permutation.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mirjax.errors import UserError
from mirjax.evaluation import metrics

log = logging.getLogger("mirjax")


@dataclasses.dataclass(frozen=True)
class Hparams:
    """Table 3.1 (MLP column: tags; NCA column: similarity)."""
    hidden: int = 1000  # 0 = logistic regression
    learning_rate: float = 0.1
    weight_decay: float = 1e-5
    batch_size: int = 100
    min_epochs: int = 100
    max_epochs: int = 500
    patience: int = 10
    fixed_epochs: int = 0  # > 0: train exactly this many epochs, no early stopping (GTZAN: 100)
    nca_dims: int = 50


class MLP(nn.Module):
    hidden: int
    outputs: int

    @nn.compact
    def __call__(self, x):
        if self.hidden:
            x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.outputs)(x)


@dataclasses.dataclass
class Result:
    metric: str
    validation: float  # best validation value (the early-stopping criterion)
    test: float
    epochs: int  # epochs trained
    best_epoch: int
    test_scores: np.ndarray  # clip-level probabilities / embeddings on the test split
    history: list[float]  # validation metric per epoch


def standardiser(train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    flat = train.reshape(-1, train.shape[-1])
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    return lambda x: ((x - mean) / std).astype(np.float32)


def _optimizer(hp: Hparams) -> optax.GradientTransformation:
    return optax.chain(optax.add_decayed_weights(hp.weight_decay), optax.sgd(hp.learning_rate))


def shuffled_batches(n: int, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """(batches, batch_size) indices of a fresh permutation; the incomplete last batch is dropped."""
    return rng.permutation(n)[: (n // batch_size) * batch_size].reshape(-1, batch_size)


def class_grouped_batches(labels: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Like `shuffled_batches`, but the classes are shuffled and each class's members kept together, so that a
    minibatch holds whole classes (NCA needs same-class pairs inside a batch to learn anything)."""
    classes = rng.permutation(np.unique(labels))
    order = np.concatenate([rng.permutation(np.flatnonzero(labels == c)) for c in classes])
    return order[: (len(order) // batch_size) * batch_size].reshape(-1, batch_size)


def _epoch_fn(loss_fn, tx):
    """A jitted epoch: scan SGD steps over the given minibatch indices; returns (params, opt, mean loss)."""

    @jax.jit
    def epoch(params, opt_state, x, y, perm):
        def step(carry, idx):
            p, o = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, x[idx], y[idx])
            updates, o = tx.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), perm)
        return params, opt_state, losses.mean()

    return epoch


def _fit(init_params, loss_fn, x, y, evaluate: Callable, hp: Hparams, batches: Callable, seed: int, what: str):
    """Shared early-stopping loop: `evaluate(params) → validation value` (higher is better); `batches(rng)` gives
    one epoch's (batches, batch_size) indices."""
    tx = _optimizer(hp)
    params, opt_state = init_params, tx.init(init_params)
    epoch_fn = _epoch_fn(loss_fn, tx)
    rng = np.random.default_rng(seed)
    x, y = jnp.asarray(x), jnp.asarray(y)
    best, best_params, best_epoch, history = -np.inf, params, 0, []
    max_epochs = hp.fixed_epochs or hp.max_epochs
    for epoch in range(1, max_epochs + 1):
        params, opt_state, loss = epoch_fn(params, opt_state, x, y, jnp.asarray(batches(rng)))
        if not np.isfinite(float(loss)):
            raise FloatingPointError(f"{what}: training loss became {float(loss)} at epoch {epoch}; "
                                     f"lower the learning rate")
        value = float(evaluate(params))
        history.append(value)
        if hp.fixed_epochs:
            best, best_params, best_epoch = value, params, epoch
        elif value > best:
            best, best_params, best_epoch = value, params, epoch
        elif epoch >= hp.min_epochs and epoch - best_epoch >= hp.patience:
            break
    return best_params, best, best_epoch, len(history), history


def _clip_scores(apply, params, windows: np.ndarray, task: str) -> np.ndarray:
    """(clips, windows, dims) → clip probabilities: the mean over windows."""
    logits = apply(params, jnp.asarray(windows.reshape(-1, windows.shape[-1])))
    probs = jax.nn.sigmoid(logits) if task == "multilabel" else jax.nn.softmax(logits)
    return np.asarray(probs).reshape(windows.shape[0], windows.shape[1], -1).mean(axis=1)


def score(task: str, labels: np.ndarray, probs: np.ndarray) -> float:
    if task == "multilabel":
        return metrics.macro(metrics.roc_auc_per_tag(labels, probs))
    return metrics.accuracy(labels, probs)


def train_mlp(train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray],
              test: tuple[np.ndarray, np.ndarray], task: str, hp: Hparams, seed: int = 0) -> Result:
    """Each split: (features (clips, windows, dims), labels (clips, tags) multi-hot or (clips,) ids)."""
    if task not in ("multilabel", "multiclass"):
        raise UserError(f"unknown task '{task}' for the MLP; valid: multilabel, multiclass")
    norm = standardiser(train[0])
    (xtr, ytr), (xva, yva), (xte, yte) = [(norm(x), y) for x, y in (train, validation, test)]
    n_win = xtr.shape[1]
    x = xtr.reshape(-1, xtr.shape[-1])
    y = np.repeat(ytr, n_win, axis=0)  # each window carries its clip's label
    outputs = ytr.shape[1] if task == "multilabel" else int(max(ytr.max(), yva.max(), yte.max())) + 1
    model = MLP(hp.hidden, outputs)
    params = model.init(jax.random.PRNGKey(seed), jnp.zeros((1, x.shape[1])))
    apply = jax.jit(model.apply)

    def loss_fn(p, xb, yb):
        logits = model.apply(p, xb)
        if task == "multilabel":
            return optax.sigmoid_binary_cross_entropy(logits, yb.astype(jnp.float32)).mean()
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    params, best, best_epoch, epochs, history = _fit(
        params, loss_fn, x, y, lambda p: score(task, yva, _clip_scores(apply, p, xva, task)), hp,
        lambda rng: shuffled_batches(x.shape[0], min(hp.batch_size, x.shape[0]), rng), seed, "MLP")
    probs = _clip_scores(apply, params, xte, task)
    return Result("roc_auc_macro" if task == "multilabel" else "accuracy", best, score(task, yte, probs),
                  epochs, best_epoch, probs, history)


def _nca_terms(z: jax.Array, labels: jax.Array) -> tuple[jax.Array, jax.Array]:
    """p_i = Σ_{j≠i, c_j=c_i} softmax_j≠i(−‖z_i − z_j‖²) and whether point i has another member of its class."""
    eye = jnp.eye(z.shape[0], dtype=bool)
    sq = jnp.sum(z * z, axis=1)
    d = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)
    p = jax.nn.softmax(jnp.where(eye, -jnp.inf, -d), axis=1)
    same = (labels[:, None] == labels[None, :]) & ~eye
    return jnp.sum(jnp.where(same, p, 0.0), axis=1), same.any(axis=1)


def nca_probability(z: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-point NCA probability of correct classification; NaN for points with no other member of their
    class."""
    p, has = _nca_terms(z, labels)
    return jnp.where(has, p, jnp.nan)


def nca_score(z: np.ndarray, labels: np.ndarray) -> float:
    """Mean NCA probability of correct classification over the points that have a same-class neighbour."""
    p = np.asarray(nca_probability(jnp.asarray(z), jnp.asarray(labels)))
    return float(np.nanmean(p)) if np.isfinite(p).any() else float("nan")


def train_nca(train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray],
              test: tuple[np.ndarray, np.ndarray], hp: Hparams, seed: int = 0) -> Result:
    """Each split: (features (clips, windows, dims), class ids (clips,)); classes need not be shared between
    splits (held-out clips are scored against each other)."""
    norm = standardiser(train[0])
    (xtr, ytr), (xva, yva), (xte, yte) = [(norm(x.mean(axis=1)), np.asarray(y)) for x, y in (train, validation, test)]
    proj = nn.Dense(hp.nca_dims, use_bias=False)
    params = proj.init(jax.random.PRNGKey(seed), jnp.zeros((1, xtr.shape[1])))
    apply = jax.jit(proj.apply)

    def loss_fn(p, xb, yb):  # maximise the expected fraction of correctly classified points in the batch
        prob, has = _nca_terms(proj.apply(p, xb), yb)
        return -jnp.sum(jnp.where(has, prob, 0.0)) / jnp.maximum(has.sum(), 1)

    params, best, best_epoch, epochs, history = _fit(
        params, loss_fn, xtr, ytr, lambda p: nca_score(np.asarray(apply(p, xva)), yva), hp,
        lambda rng: class_grouped_batches(ytr, min(hp.batch_size, len(ytr)), rng), seed, "NCA")
    z = np.asarray(apply(params, xte))
    return Result("nca_probability", best, nca_score(z, yte), epochs, best_epoch, z, history)
