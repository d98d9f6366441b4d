"""The conv block's speed-ups change no result: the reshape max-pool and its gradient equal flax's `nn.max_pool`
(ties included), the blocked im2col kernel gradient equals `lax`'s, and the block (pool before ELU) equals the
conv → BN → ELU → pool composition it replaced, in value and gradient."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from mirjax.models import layers


@pytest.mark.parametrize("shape, window", [((3, 9, 10, 4), (2, 3)), ((2, 8, 8, 3), (4, 4)), ((2, 7, 9, 2), (3, 2)),
                                           ((2, 11, 3), (4,)), ((1, 5, 5, 2), (5, 5))])
def test_max_pool_matches_flax_value_and_gradient(shape, window):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, shape).astype(np.float32)  # small integers: many ties inside the windows
    ref, ref_vjp = jax.vjp(lambda x: nn.max_pool(x, window, strides=window, padding="VALID"), x)
    out, vjp = jax.vjp(lambda x: layers.max_pool(x, window), x)
    np.testing.assert_array_equal(out, ref)
    g = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_array_equal(vjp(g)[0], ref_vjp(g)[0])  # the first maximum of a window gets the gradient


@pytest.mark.parametrize("shape, kernel, padding", [((2, 40, 50, 3), (3, 3), ((1, 1), (1, 1))),
                                                    ((3, 30, 40, 1), (3, 3), ((1, 1), (1, 1))),
                                                    ((2, 30, 41, 5), (1, 3), ((0, 0), (1, 1))),
                                                    ((2, 31, 40, 4), (3, 1), ((0, 0), (0, 0)))])
def test_conv_kernel_gradient_matches_lax(monkeypatch, shape, kernel, padding):
    monkeypatch.setattr(layers, "IM2COL_MIN_POSITIONS", 1)  # take the blocked path at this size
    monkeypatch.setattr(layers, "IM2COL_BLOCK_BYTES", 4096)  # several row blocks per example
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    w = jnp.asarray(rng.standard_normal(kernel + (shape[-1], 7)), jnp.float32)
    dn = lax.conv_dimension_numbers(x.shape, w.shape, ("NHWC", "HWIO", "NHWC"))
    ref, ref_vjp = jax.vjp(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=dn), x, w)
    out, vjp = jax.vjp(lambda x, w: layers.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=dn), x, w)
    np.testing.assert_array_equal(out, ref)
    g = jnp.asarray(rng.standard_normal(out.shape), jnp.float32)
    (dx_ref, dw_ref), (dx, dw) = ref_vjp(g), vjp(g)
    np.testing.assert_array_equal(dx, dx_ref)
    np.testing.assert_allclose(dw, dw_ref, rtol=1e-5, atol=1e-5 * float(jnp.abs(dw_ref).max()))


class _OldBlock(nn.Module):
    """The conv block as it was: flax's conv, BN, ELU, then `nn.max_pool`."""

    features: int
    pool: tuple[int, int]

    @nn.compact
    def __call__(self, x, train):
        x = nn.Conv(self.features, (3, 3), padding=((1, 1), (1, 1)), name="Conv_0")(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-3, name="BatchNorm_0")(x)
        return nn.max_pool(nn.elu(x), self.pool, strides=self.pool, padding="VALID")


@pytest.mark.parametrize("train", [True, False])
def test_conv_block_equals_the_plain_composition(monkeypatch, train):
    monkeypatch.setattr(layers, "IM2COL_MIN_POSITIONS", 1)
    x = jnp.asarray(np.random.default_rng(2).standard_normal((2, 24, 30, 3)), jnp.float32)
    block, old = layers.ConvBlock(8, (3, 3), (2, 3)), _OldBlock(8, (2, 3))
    variables = block.init(jax.random.PRNGKey(0), x, train=False)
    assert jax.tree.structure(variables) == jax.tree.structure(old.init(jax.random.PRNGKey(0), x, train=False))

    def run(module):
        def f(params):
            out = module.apply({**variables, "params": params}, x, train=train, mutable=["batch_stats"])
            return jnp.sum(out[0] ** 2), out
        return jax.value_and_grad(f, has_aux=True)(variables["params"])

    (_, (out, stats)), grads = run(block)
    (_, (ref, ref_stats)), ref_grads = run(old)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree.leaves((stats, grads)), jax.tree.leaves((ref_stats, ref_grads))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(jnp.abs(b).max()))
