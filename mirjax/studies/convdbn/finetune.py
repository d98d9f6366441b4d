"""Supervised fine-tuning of the Ch. 2 beat convnet (thesis §2.3.4): minibatch gradient descent on the tracks'
NLL, whole tracks padded to one length with a mask, accuracy on validation and test recorded at chosen epochs.

A jitted loop here rather than `train.py`: the examples are variable-length beat sequences computed from audio by a
beat tracker (not a front-end over fixed-length clips of a TFDS split), and the run starts from DBN weights made in
the same study.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mirjax.models import create_model


def pad_tracks(tracks: Sequence[np.ndarray], min_steps: int,
               length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(tracks, length, dims) zero-padded and (tracks, length) mask; tracks under `min_steps` are repeated."""
    tracks = [np.tile(t, (-(-min_steps // len(t)), 1)) if len(t) < min_steps else t for t in tracks]
    length = length or max(len(t) for t in tracks)
    x = np.zeros((len(tracks), length, tracks[0].shape[1]), np.float32)
    mask = np.zeros((len(tracks), length), bool)
    for i, t in enumerate(tracks):
        n = min(len(t), length)
        x[i, :n], mask[i, :n] = t[:n], True
    return x, mask


def trim(x: np.ndarray, mask: np.ndarray, multiple: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Drop the padding columns beyond a batch's longest track (rounded up to `multiple`, so that few shapes are
    compiled)."""
    length = int(mask.sum(axis=1).max())
    length = min(x.shape[1], -(-length // multiple) * multiple)
    return x[:, :length], mask[:, :length]


def make_model(num_classes: int, features: int = 100, width: int = 8, pool: int = 4):
    return create_model("beat_convnet", num_classes, features=features, width=width, pool=pool)


def finetune(model, variables: dict, data: dict, task: str, learning_rate: float, epochs: Sequence[int],
             batch_size: int = 16, seed: int = 0) -> dict:
    """data: {split: {"x", "mask", task}} (padded). Returns {epoch: {"validation": acc, "test": acc, "loss": …}}."""
    opt = optax.sgd(learning_rate)
    params = variables["params"]
    opt_state = opt.init(params)

    def loss_fn(p, x, m, y):
        logp = model.apply({"params": p}, x, mask=m)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def step(p, s, x, m, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, m, y)
        updates, s = opt.update(g, s, p)
        return optax.apply_updates(p, updates), s, loss

    predict = jax.jit(lambda p, x, m: jnp.argmax(model.apply({"params": p}, x, mask=m), axis=-1))

    def accuracy(p, split):
        d = data[split]
        preds = np.concatenate([np.asarray(predict(p, *trim(d["x"][i:i + 64], d["mask"][i:i + 64])))
                                for i in range(0, len(d["x"]), 64)])
        return float(np.mean(preds == d[task]))

    train = data["train"]
    n = len(train["x"])
    rng = np.random.default_rng(seed)
    results, losses = {}, []
    for epoch in range(1, max(epochs) + 1):
        order = rng.permutation(n)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = order[i:i + batch_size]
            params, opt_state, loss = step(params, opt_state, *trim(train["x"][idx], train["mask"][idx]),
                                           train[task][idx])
            losses.append(float(loss))
        if epoch in epochs:
            results[epoch] = {"validation": accuracy(params, "validation"), "test": accuracy(params, "test"),
                              "train_loss": float(np.mean(losses[-max(1, n // batch_size):]))}
    return results
