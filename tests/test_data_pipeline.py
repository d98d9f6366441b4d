"""tf.data pipeline: bad clips never crash it, padding and crops are right, the stream resumes exactly, and P processes
together load exactly the single-process batches, each decoding only its own share."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from mirjax.config import base_config
from mirjax.data import inputs, pipeline

RATE = 1000  # a tiny sample rate keeps clips small; the pipeline is rate-agnostic
LENGTHS = [3000, 3000, 3000, 2500, 120, 0, 3000, 3000, 1999, 3000, 3000, 3000]


class BadClips(tfds.core.GeneratorBasedBuilder):
    """Clip i has LENGTHS[i] samples whose value encodes (i, position); clip 6 holds NaN/inf samples."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "audio": tfds.features.Audio(shape=(None,), dtype=np.float32, sample_rate=RATE, file_format=None),
            "tags": tfds.features.Tensor(shape=(3,), dtype=np.uint8),
        }), metadata=tfds.core.MetadataDict(tag_names=["a", "b", "c"]))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(), "test": self._generate_examples()}

    def _generate_examples(self):
        for i, n in enumerate(LENGTHS):
            audio = (i + 1) + np.arange(n, dtype=np.float32) / 10_000  # identifies clip and position
            if i == 6:
                audio[10:20] = np.nan
                audio[30] = np.inf
            yield i, {"audio": audio, "tags": np.array([i % 2, 1, 0], np.uint8)}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("bad"))
    builder = BadClips(data_dir=data_dir)
    builder.download_and_prepare()
    cfg = base_config().dataset
    cfg.name, cfg.data_dir, cfg.sample_rate, cfg.crop_seconds = "bad_clips", data_dir, RATE, 1.0
    return cfg, builder, pipeline.dataset_info(cfg, builder)


def _ident(crop):
    """(clip index, first position) from the encoded values of a crop."""
    v = crop[np.isfinite(crop) & (crop != 0)]
    return int(np.floor(v[0])) - 1


def _by_clip(batch):
    """TFDS stores examples in hashed-key order: map clip index → its crops by the encoded values."""
    return {(_ident(crops[0]) if np.any(crops) else 5): crops
            for crops, m in zip(batch["input"], batch["mask"]) if m}


def test_train_batches_survive_short_empty_and_nan_clips(setup):
    cfg, builder, info = setup
    batches = list(itertools.islice(pipeline.train_batches(cfg, builder, info, 4, seed=0), 9))  # 3 epochs
    for b in batches:
        assert b["input"].shape == (4, RATE) and b["input"].dtype == np.float32
        assert np.isfinite(b["input"]).all()  # NaN/inf samples became 0
        assert b["label"].shape == (4, 3)
    crops = {_ident(c) if np.any(c) else 5: c for b in batches for c in b["input"]}
    assert set(crops) == set(range(len(LENGTHS)))  # every clip, even the empty one (as silence), is used
    assert not np.any(crops[5])  # empty clip → silence
    short = crops[4]  # 120 samples, repeat-padded: the clip tiled end to end
    np.testing.assert_array_equal(short[:120], short[120:240])
    first = _by_clip(next(pipeline.eval_batches(cfg, builder, "train", num_crops=1, batch_clips=12)))[6][0]
    assert np.isfinite(first).all() and not np.any(first[10:20]) and first[30] == 0 and first[9] > 0


def test_zero_padding_is_configurable(setup):
    cfg, builder, info = setup
    cfg = cfg.copy_and_resolve_references()
    cfg.pad_mode = "zero"
    b = next(pipeline.eval_batches(cfg, builder, "test", num_crops=1, batch_clips=12))
    short = _by_clip(b)[4][0]
    assert np.all(short[:120] > 0) and not np.any(short[120:])


def test_train_stream_is_a_function_of_seed_and_step(setup):
    cfg, builder, info = setup
    full = list(itertools.islice(pipeline.train_batches(cfg, builder, info, 4, seed=3), 8))
    resumed = list(itertools.islice(pipeline.train_batches(cfg, builder, info, 4, seed=3, start_step=5), 3))
    for a, b in zip(full[5:], resumed):
        np.testing.assert_array_equal(a["input"], b["input"])
    other = next(pipeline.train_batches(cfg, builder, info, 4, seed=4))
    assert not np.array_equal(other["input"], full[0]["input"])
    # Epochs reshuffle: the clip order of epoch 1 differs from epoch 0.
    order = lambda bs: [_ident(c) if np.any(c) else 5 for b in bs for c in b["input"]]
    assert order(full[:3]) != order(full[3:6]) and sorted(order(full[:3])) == sorted(order(full[3:6]))


def test_eval_crops_are_evenly_spaced_and_the_last_batch_is_masked(setup):
    cfg, builder, info = setup
    batches = list(pipeline.eval_batches(cfg, builder, "test", num_crops=3, batch_clips=5))
    assert [b["input"].shape for b in batches] == [(5, 3, RATE)] * 3
    mask = np.concatenate([b["mask"] for b in batches])
    assert mask.tolist() == [True] * 12 + [False] * 3
    clips = {k: v for b in batches for k, v in _by_clip(b).items()}
    assert len(clips) == 12
    clip0 = clips[0]  # 3000 samples, crops at 0, 1000, 2000
    np.testing.assert_allclose(clip0[:, 0], 1 + np.array([0, 1000, 2000]) / 10_000, rtol=1e-6)
    clip3 = clips[3]  # 2500 samples: crops at 0, 750, 1500
    np.testing.assert_allclose(clip3[:, 0], 4 + np.array([0, 750, 1500]) / 10_000, rtol=1e-6)


def test_a_split_smaller_than_a_batch_is_a_clear_error(setup):
    cfg, builder, info = setup
    with pytest.raises(ValueError, match="fewer than one batch"):
        next(pipeline.train_batches(cfg, builder, info, 64, seed=0))


# --- per-host input: P processes together load exactly the single-process batches, each decoding only its share ---

def _clip_id(audio: np.ndarray) -> int:
    """The clip a decoded (uncropped) clip is: its values encode its index; the empty clip 5 has none."""
    return _ident(audio) if np.any(np.isfinite(audio) & (audio != 0)) else 5


@pytest.fixture
def counted(setup, monkeypatch):
    """The setup with an input kind that records the clip of every decode (in call order)."""
    cfg, builder, _ = setup
    audio = inputs.INPUT_KINDS["audio"]
    decoded: list[int] = []

    def record(x):
        decoded.append(_clip_id(x.numpy()))
        return x

    def decode(raw):
        out = tf.py_function(record, [audio.decode(raw)], tf.float32)
        out.set_shape([None])
        return out

    monkeypatch.setitem(inputs.INPUT_KINDS, "counted", dataclasses.replace(audio, name="counted", decode=decode))
    cfg = cfg.copy_and_resolve_references()
    cfg.input_kind = "counted"
    return cfg, builder, pipeline.dataset_info(cfg, builder), decoded


@pytest.mark.parametrize("n_proc, start_step", [(2, 0), (2, 4), (4, 4)])
def test_processes_together_load_the_single_process_batches(setup, n_proc, start_step):
    cfg, builder, info = setup
    steps, batch = 7, 4  # 3 steps per epoch: the range crosses two epoch boundaries
    single = list(itertools.islice(pipeline.train_batches(cfg, builder, info, batch, 3, start_step), steps))
    shares = [list(itertools.islice(pipeline.train_batches(cfg, builder, info, batch, 3, start_step,
                                                           process_index=p, process_count=n_proc), steps))
              for p in range(n_proc)]
    for step, whole in enumerate(single):
        parts = [s[step] for s in shares]
        assert all(len(part["input"]) == batch // n_proc for part in parts)
        for key in ("input", "label"):  # process p holds rows [p·B/P, (p+1)·B/P) of the global batch
            np.testing.assert_array_equal(np.concatenate([part[key] for part in parts]), whole[key])


@pytest.mark.parametrize("cache", [True, False])
def test_each_process_decodes_only_its_share(counted, cache):
    cfg, builder, info, decoded = counted
    cfg.cache = cache
    batch, n_proc = 4, 2
    spe = pipeline.steps_per_epoch(cfg, info, batch)
    whole = list(itertools.islice(pipeline.train_batches(cfg, builder, info, batch, 0), spe))
    rows = batch // n_proc
    for p in range(n_proc):
        decoded.clear()
        stream = pipeline.train_batches(cfg, builder, info, batch, 0, process_index=p, process_count=n_proc)
        mine = [_ident(c) if np.any(c) else 5 for b in itertools.islice(stream, spe) for c in b["input"]]
        expected = [_ident(c) if np.any(c) else 5 for b in whole for c in b["input"][p * rows:(p + 1) * rows]]
        assert mine == expected
        # One epoch consumed (the next is not started): exactly this process's clips were decoded, each once.
        assert sorted(decoded) == sorted(expected) and len(expected) == len(LENGTHS) // n_proc


def test_eval_shards_are_disjoint_cover_the_split_and_are_decoded_by_their_process_only(counted):
    cfg, builder, _, decoded = counted
    n_proc, seen = 3, []
    for p in range(n_proc):
        decoded.clear()
        clips = []
        for b in pipeline.eval_batches(cfg, builder, "test", num_crops=1, batch_clips=2, process_index=p,
                                       process_count=n_proc):
            clips += list(_by_clip(b))
        assert sorted(decoded) == sorted(clips) and len(clips) == len(LENGTHS) // n_proc
        seen += clips
    assert sorted(seen) == list(range(len(LENGTHS)))
