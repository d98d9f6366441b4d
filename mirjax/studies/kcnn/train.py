"""Training the KCNN on audio-word sequences (Zhang et al. §3.4, Eq. 6): cross-entropy + (λ/2)‖θ‖² over every
parameter (lookup tables and biases included), plain SGD at a fixed rate, mini-batches of whole clips.

ULT ("unchanged lookup tables", §4.4): the tables get no update at all — `optax.multi_transform` sends them to
`optax.set_to_zero()` — and they are left out of the L2 term, so they stay bit-identical to the centroids.

Why a jitted loop here rather than train.py: the input is not audio but integer word sequences made by codebooks
that are themselves fitted per training fold; train.py's pipeline feeds (audio → front-end) examples of a TFDS
split, and fitting codebooks per fold inside it would mean a new input kind, task and data path for one study.
"""

from __future__ import annotations

import functools
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mirjax.models import create_model
from mirjax.models.kcnn import table_names, tables_from_centroids


def pad_words(seqs: list[np.ndarray], length: int | None = None) -> np.ndarray:
    """[(positions_i, tables) int] → (items, length, tables) int32, −1 after each sequence (the padding mark)."""
    length = length or max(len(s) for s in seqs)
    out = np.full((len(seqs), length, seqs[0].shape[1]), -1, np.int32)
    for i, s in enumerate(seqs):
        out[i, :min(len(s), length)] = s[:length]
    return out


def l2_term(params, frozen_tables: bool) -> jax.Array:
    """‖θ‖² over every parameter (without the lookup tables when they are frozen)."""
    leaves = [v for k, v in params.items() if not (frozen_tables and k.startswith("table_"))]
    return sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(leaves))


def loss_fn(params, model: nn.Module, words, labels, l2: float, frozen_tables: bool):
    logits = model.apply({"params": params}, words)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return ce + 0.5 * l2 * l2_term(params, frozen_tables)


def optimizer(params, lr: float, frozen_tables: bool) -> optax.GradientTransformation:
    if not frozen_tables:
        return optax.sgd(lr)
    labels = {k: ("frozen" if k.startswith("table_") else "train") for k in params}
    return optax.multi_transform({"train": optax.sgd(lr), "frozen": optax.set_to_zero()}, labels)


def build(num_classes: int, centroids: list[np.ndarray], model_cfg: dict, k: int, seed: int):
    """(model, params) with the tables initialised from the codebooks' centroids."""
    model = create_model("kcnn", num_classes, num_words=tuple(c.shape[0] for c in centroids),
                         embed_dims=tuple(c.shape[1] for c in centroids), **{**model_cfg, "k": k})
    example = jnp.zeros((1, 8, len(centroids)), jnp.int32)
    params = model.init(jax.random.PRNGKey(seed), example)["params"]
    return model, tables_from_centroids(params, centroids)


def train(model, params, words: np.ndarray, labels: np.ndarray, *, lr: float, l2: float, epochs: int,
          batch_size: int, frozen_tables: bool, seed: int) -> tuple[dict, dict]:
    """SGD on (items, positions, tables) words; returns (params, {"loss": per-epoch means, "examples_per_s"})."""
    params = jax.tree.map(jnp.array, params)  # a copy: the step donates its buffers, the caller keeps its own
    tx = optimizer(params, lr, frozen_tables)
    opt = tx.init(params)

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, opt, wb, yb):
        loss, g = jax.value_and_grad(loss_fn)(params, model, wb, yb, l2, frozen_tables)
        updates, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, updates), opt, loss

    rng = np.random.default_rng(seed)
    n = len(labels)
    bs = min(batch_size, n)
    history, seen, t0 = [], 0, None
    for _ in range(epochs):
        order = rng.permutation(n)
        losses = []
        for s in range(0, n - bs + 1, bs):
            idx = order[s:s + bs]
            params, opt, loss = step(params, opt, jnp.asarray(words[idx]), jnp.asarray(labels[idx]))
            losses.append(loss)
            if t0 is None:  # time from the second step: the first compiles
                jax.block_until_ready(loss)
                t0 = time.perf_counter()
            else:
                seen += bs
        history.append(float(np.mean(jax.device_get(losses))))
    elapsed = time.perf_counter() - t0 if t0 is not None else 0.0
    return params, {"loss": history, "examples_per_s": seen / elapsed if elapsed > 0 else 0.0}


def _apply(model, params, words, representation, batch_size=64):
    fn = jax.jit(lambda p, w: model.apply({"params": p}, w, representation=representation))
    return np.concatenate([np.asarray(fn(params, jnp.asarray(words[i:i + batch_size])))
                           for i in range(0, len(words), batch_size)])


def predict(model, params, words: np.ndarray) -> np.ndarray:
    """(items,) predicted class indices."""
    return _apply(model, params, words, False).argmax(-1)


def hidden(model, params, words: np.ndarray) -> np.ndarray:
    """(items, hidden) top-hidden-layer outputs: the song-level representation."""
    return _apply(model, params, words, True)


__all__ = ["build", "hidden", "l2_term", "loss_fn", "optimizer", "pad_words", "predict", "table_names", "train"]
