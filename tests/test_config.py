"""Config validation: unknown keys and wrong types fail with one line naming the key."""

import importlib.util
import pathlib

import pytest

from mirjax.config import ConfigError, base_config, validate
from mirjax.training.optim import make_optimizer, parse_piecewise

CONFIGS = sorted(pathlib.Path(__file__).parent.parent.glob("configs/*.py"))


def _module(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _load(path):
    return _module(path).get_config()


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_shipped_config_validates(path):
    validate(_load(path), getattr(_module(path), "REFERENCE", base_config)())


def test_unknown_key_is_named_with_a_suggestion():
    c = base_config()
    c.train.batchsize = 8
    with pytest.raises(ConfigError, match=r"unknown config key 'train.batchsize' \(did you mean 'train.batch_size'"):
        validate(c)


def test_wrong_type_is_named():
    import ml_collections
    c = base_config().to_dict()
    c["train"]["num_steps"] = "ten"  # a config file that builds its sections from plain dicts
    with pytest.raises(ConfigError, match=r"'train.num_steps' must be int, got str"):
        validate(ml_collections.ConfigDict(c))


def test_piecewise_schedule_follows_the_table():
    c = base_config().optim
    c.schedule = "piecewise"
    c.lr_schedule = {0: 0.1, 10: 0.01, 20: 0.001}
    _, sched = make_optimizer(c, 30)
    assert [float(sched(s)) for s in (0, 9, 10, 19, 20, 29)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert parse_piecewise("0:0.5,100:0.05") == {0: 0.5, 100: 0.05}
    with pytest.raises(ValueError, match="step 0"):
        parse_piecewise({10: 0.1})


def test_weight_decay_skips_biases_and_norm_parameters():
    import jax.numpy as jnp
    from mirjax.training.optim import decay_mask
    params = {"Conv_0": {"kernel": jnp.ones((3, 3, 1, 4)), "bias": jnp.ones(4)},
              "BatchNorm_0": {"scale": jnp.ones(4), "bias": jnp.ones(4)}}
    mask = decay_mask(params)
    assert mask == {"Conv_0": {"kernel": True, "bias": False}, "BatchNorm_0": {"scale": False, "bias": False}}
