"""Choi's four structures (thesis Ch. 4): parameter counts against Table 4-A's targets and closed forms, shapes,
and training through train.py/eval.py on scorebank/tiny."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from mirjax.models import create_model
from mirjax.models.choi_structures import SIZE_PARAMS, SIZES, STRUCTURES, TABLE_4A

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THESIS_INPUT = (1366, 96)  # frames × mel bins (Ch. 4)


def _variables(structure: str, size: str, shape=THESIS_INPUT):
    model = create_model(structure, 50, size=size)
    return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((2, *shape)), train=False))


def _count(tree) -> int:
    return sum(x.size for x in jax.tree.leaves(tree))


def _closed_form(structure: str, size: str) -> int:
    """Trainable parameters from the Table 4-A widths, written out layer by layer (Choi thesis §4.2.5):
    conv kernel + bias, BN γ/β, dense kernel + bias, flax GRU = 3·(in·h + h·h) + 4·h, output dense to 50 tags."""
    conv, head = TABLE_4A[structure][size]
    bn = lambda n: 2 * n  # noqa: E731
    total, prev = 0, 1
    if structure == "k1c2":
        for w in conv:
            total += 1 * 8 * prev * w + w + bn(w)  # (1×8) kernels: the reading we chose
            prev = w
        prev *= 96  # flatten N × 96 bins
        for w in head:
            total += prev * w + w + bn(w)
            prev = w
    elif structure == "k2c1":
        for i, w in enumerate(conv):
            total += (96 * 4 if i == 0 else 4) * prev * w + w + bn(w)
            prev = w
        for w in head:
            total += prev * w + w + bn(w)
            prev = w
    elif structure == "k2c2":
        for w in conv:
            total += 9 * prev * w + w + bn(w)
            prev = w
    else:
        for w in conv:
            total += 9 * prev * w + w + bn(w)
            prev = w
        for h in head:
            total += 3 * (prev * h + h * h) + 4 * h
            prev = h
    return total + prev * 50 + 50


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("structure", STRUCTURES)
def test_parameter_count_matches_table_4a(structure, size):
    variables = _variables(structure, size)
    trainable = _count(variables["params"])
    assert trainable == _closed_form(structure, size)
    # Keras's count_params (what the thesis reports) also counts BN moving mean/variance.
    keras_count = trainable + _count(variables.get("batch_stats", {}))
    target = SIZE_PARAMS[size]
    assert abs(keras_count - target) / target < 0.03, (structure, size, keras_count)


def test_spec_counts_for_k2c2_and_k2c1():
    # Independent numbers, counted by hand from Table 4-A's widths (Choi thesis §4.2.5).
    assert _count(_variables("k2c2", "1M")["params"]) == 1_003_828
    assert _count(_variables("k2c1", "0.1M")["params"]) == 97_513
    assert _count(_variables("k1c2", "0.5M")["params"]) == 488_120


def test_k1c2_conv_share_is_thesis_13_percent():
    params = _variables("k1c2", "0.5M")["params"]
    conv = sum(_count(v) for k, v in params.items() if k.startswith("ConvBlock"))
    assert 0.12 < conv / _count(params) < 0.14  # "only 13% of the parameters are used by convolutional layers"


@pytest.mark.parametrize("structure", STRUCTURES)
def test_outputs_and_short_inputs(structure):
    model = create_model(structure, 7, size="0.1M")
    thesis = _count(jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, *THESIS_INPUT)),
                                                      train=False))["params"])
    for frames in (188, 40):
        x = jax.random.normal(jax.random.key(1), (3, frames, 96))
        v = jax.jit(lambda x: model.init(jax.random.key(0), x, train=False))(x)
        out = jax.jit(lambda v, x: model.apply(v, x, train=False))(v, x)
        assert out.shape == (3, 7) and bool(jnp.all(jnp.isfinite(out)))
        assert _count(v["params"]) == thesis  # the parameter count does not depend on the crop length


def test_crnn_has_15_steps_at_thesis_input():
    # 1366 frames are zero-padded to 1440 = 15 × (2·3·4·4): the GRU sees 15 steps (released music_tagger_crnn.py).
    model = create_model("crnn", 50, size="0.1M")
    x = jnp.zeros((1, 1366, 96))
    v = model.init(jax.random.key(0), x, train=False)
    _, inter = model.apply(v, x, train=False, capture_intermediates=True)
    seq_in = inter["intermediates"]["ConvBlock_3"]["__call__"][0]
    assert seq_in.shape[1:3] == (1, 15)


def test_compact_convnet_pools_by_height():
    for bins, frames in ((96, 1360), (128, 1360), (257, 1360)):
        model = create_model("compact_convnet", 50)
        x = jnp.zeros((1, frames, bins))
        v = model.init(jax.random.key(0), x, train=False)
        _, inter = model.apply(v, x, train=False, capture_intermediates=True)
        assert inter["intermediates"]["ConvBlock_4"]["__call__"][0].shape[1:3] == (1, 1), bins


def test_unknown_size_and_bad_widths():
    with pytest.raises(ValueError, match="unknown size '2M'"):
        _variables("crnn", "2M")
    model = create_model("k2c1", 50, size="0.1M", time_pools=(4, 4))
    with pytest.raises(ValueError, match="one entry per block"):
        model.init(jax.random.key(0), jnp.zeros((1, 200, 96)), train=False)


CLI_STRUCTURES = ("crnn",)


@pytest.mark.slow
def test_a_structure_trains_and_evaluates_through_the_cli(tiny_data_dir, tmp_path):
    """train.py, then eval.py, on scorebank/tiny for the CRNN, the structure furthest from the others (a GRU after
    the convolutions). All four structures train and evaluate in-process in test_studies_runner's study test; this
    one checks the command-line path of a Ch. 4 config."""
    overrides = ["--config.dataset.name=scorebank/tiny", f"--config.dataset.data_dir={tiny_data_dir}",
                 "--config.dataset.crop_seconds=1.0", "--config.train.batch_size=8", "--config.train.num_steps=2",
                 "--config.train.eval_every=2", "--config.train.checkpoint_every=2", "--config.train.log_every=1",
                 "--config.train.progress=False", "--config.eval.num_crops=2", "--config.train.eval_crops=1"]
    for script in ("train.py", "eval.py"):
        procs = {s: subprocess.Popen([sys.executable, script, f"--config=configs/choi_structures.py:{s},0.1M,quick",
                                      f"--workdir={tmp_path / s}", *overrides], cwd=REPO, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for s in CLI_STRUCTURES}
        for structure, p in procs.items():
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, f"{script} {structure}: {err[-2000:]}"
    for structure in CLI_STRUCTURES:
        report = json.load(open(tmp_path / structure / "report.json"))
        assert report["dataset"] == "scorebank/tiny" and report["num_clips"] == 9
        assert 0.0 <= report["roc_auc_macro"] <= 1.0 and not math.isnan(report["roc_auc_macro"])
        config = json.load(open(tmp_path / structure / "config.json"))
        assert config["model"]["name"] == structure


@pytest.mark.parametrize("setting", ["msd", "mtt", "mtt_clean", "scorebank", "quick"])
def test_paper_settings_are_configs(setting):
    """The thesis's input (12 kHz, n_fft 512, hop 256, 96 mels, 29.12 s → 1366 frames) is a config setting."""
    from mirjax.config import load_config, section_kwargs
    from mirjax.data.pipeline import crop_samples
    from mirjax.frontend import output_shape

    for structure in STRUCTURES:
        c = load_config(f"configs/choi_structures.py:{structure},1M,{setting}")
        assert c.model.name == structure and c.model.size == "1M"
        frames, bins = output_shape(c.frontend.name, crop_samples(c.dataset), **section_kwargs(c.frontend))
        assert bins == 96
        if setting in ("msd", "mtt", "mtt_clean"):
            assert (c.dataset.sample_rate, c.frontend.n_fft, c.frontend.hop_length) == (12000, 512, 256)
            assert frames == 1366 and c.train.early_stopping_patience == 1
            assert c.train.eval_every * c.train.batch_size <= {"msd": 201_680, "mtt": 18_706,
                                                               "mtt_clean": 15_247}[setting]


def test_bad_structure_arg_is_one_line():
    from mirjax.config import load_config
    with pytest.raises(ValueError, match="unknown structure 'k3c3'"):
        load_config("configs/choi_structures.py:k3c3,1M")
    with pytest.raises(ValueError, match="unknown setting 'gtzan'"):
        load_config("configs/choi_structures.py:crnn,1M,gtzan")
