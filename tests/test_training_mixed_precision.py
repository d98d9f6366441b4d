"""`train.compute_dtype`: bfloat16 compute with float32 parameters, optimizer state and loss.

Documented tolerance (docs/benchmarks.md, "Mixed precision"): on a tiny run of 30 Adam steps from the same
initialisation and batch, the bfloat16 loss stays within 3 % (relative) of the float32 loss at every step
(measured: ≤ 1.2 %), and both fall by more than half.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mirjax import tasks
from mirjax.config import base_config
from mirjax.errors import UserError
from mirjax.frontend import make_frontend
from mirjax.models import create_model
from mirjax.training.state import create_train_state
from mirjax.training.steps import MixedPrecision, make_train_step, with_compute_dtype

STEPS = 30
REL_TOLERANCE = 0.03


def _tiny():
    frontend = make_frontend("logmel", sample_rate=8000, n_fft=256, hop_length=128, n_mels=32)
    model = create_model("compact_convnet", 5, channels=(8, 8, 16), num_blocks=3, freq_pools=(2, 2, 2),
                         time_pools=(2, 2, 2), input_norm="frequency", global_pool="mean_max")
    rng = np.random.default_rng(0)
    n = 8000
    labels = (rng.random((16, 5)) < 0.3).astype(np.float32)
    # Noise plus a tone in the clips whose first tag is on: something to learn.
    audio = 0.1 * rng.standard_normal((16, n)) + labels[:, :1] * np.sin(0.3 * np.arange(n))[None]
    return frontend, model, {"input": audio.astype(np.float32), "label": labels}


def _train(dtype: str):
    frontend, model, batch = _tiny()
    tx = optax.adam(3e-3)
    state = create_train_state(model, tx, frontend(jnp.zeros((1, batch["input"].shape[1]))), 0)
    step = jax.jit(make_train_step(model, frontend, tasks.bce_loss, optax.constant_schedule(3e-3), compute_dtype=dtype))
    losses = []
    for _ in range(STEPS):
        state, metrics = step(state, batch)
        losses.append(float(metrics["loss"]))
    return np.array(losses), state, (step, batch)


def test_bfloat16_trains_and_matches_float32_loss():
    f32, _, _ = _train("float32")
    bf16, state, (step, batch) = _train("bfloat16")
    assert np.all(np.isfinite(bf16))
    assert bf16[-1] < 0.5 * bf16[0] and f32[-1] < 0.5 * f32[0]
    np.testing.assert_allclose(bf16, f32, rtol=REL_TOLERANCE)
    # Parameters, optimizer state and batch-norm statistics stay float32.
    for leaf in jax.tree.leaves((state.params, state.opt_state, state.batch_stats)):
        assert leaf.dtype in (jnp.float32, jnp.int32), leaf.dtype
    # … while the convolutions run in bfloat16.
    hlo = jax.jit(step).lower(state, batch).as_text()
    assert "convolution" in hlo and "bf16" in hlo


def test_float32_is_the_unwrapped_model():
    _, model, _ = _tiny()
    assert with_compute_dtype(model, "float32") is model
    wrapped = with_compute_dtype(model, "bfloat16")
    assert isinstance(wrapped, MixedPrecision) and wrapped.widths() == model.widths()
    assert with_compute_dtype(wrapped, "bfloat16") is wrapped
    assert base_config().train.compute_dtype == "float32"


@pytest.mark.parametrize("name", ["float16", "bf16", ""])
def test_unknown_compute_dtype_is_one_line_user_error(name):
    _, model, _ = _tiny()
    with pytest.raises(UserError) as e:
        with_compute_dtype(model, name)
    assert "train.compute_dtype" in str(e.value) and "\n" not in str(e.value)
