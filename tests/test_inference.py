"""Inference on any audio (mirjax.inference, `mirjax tag` / `mirjax embed`): model cards, windows streamed from
files at any rate against a whole-file reference, the taggram against the training code's own predict step, bad
files skipped with reasons, a one-hour file, and the Choi Ch. 6 convnet feature."""

from __future__ import annotations

import csv
import json
import os

import jax
import numpy as np
import pytest
import soundfile as sf
import soxr

from conftest import tiny_config
from mirjax import cli
from mirjax.data.audio import AudioError
from mirjax.inference import Tagger, audio, from_workdir
from mirjax.training import setup, trainer
from mirjax.training.evaluate import evaluate


@pytest.fixture(scope="module")
def run(tiny_data_dir, tmp_path_factory):
    """A Choi Compact-convnet (32 channels per block) trained 6 steps on scorebank/tiny, and evaluated."""
    config = tiny_config(tiny_data_dir, **{"model.channels": (32,) * 5, "model.global_pool": "max"})
    workdir = str(tmp_path_factory.mktemp("run"))
    trainer.train_and_evaluate(config, workdir)
    evaluate(config, [workdir])
    return config, workdir


def test_training_writes_a_model_card_that_needs_no_dataset(run):
    config, workdir = run
    card = json.load(open(os.path.join(workdir, "model_card.json")))
    exp = setup.build_experiment(config)
    assert card["outputs"] == list(exp.info.label_names) and len(card["outputs"]) == 34
    assert card["task"] == "multilabel" and card["activation"] == "sigmoid"
    assert card["input"] == {"kind": "audio", "key": "audio", "shape": [16000], "sample_rate": 16000, "seconds": 1.0}
    assert card["frontend"]["name"] == "logmel" and card["model"]["name"] == "compact_convnet"
    assert card["dataset"]["splits"] == {"train": 27, "validation": 9, "test": 9}
    assert card["trained_steps"] == 6 and set(card["validation"]) == {"roc_auc_macro", "pr_auc_macro"}
    report = json.load(open(os.path.join(workdir, "report.json")))
    assert card["test"]["roc_auc_macro"] == report["roc_auc_macro"]


def test_streamed_windows_equal_the_whole_file_resampled(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, (44100 * 5 + 123, 2)).astype(np.float32)
    path = str(tmp_path / "stereo.wav")
    sf.write(path, x, 44100, subtype="FLOAT")
    mono = soxr.resample(x.mean(axis=1), 44100, 16000)  # one shot, whole file
    got = list(audio.windows(path, 16000, window=16000, hop=12000, block_seconds=0.7))  # many small blocks
    starts = audio.window_starts(len(mono), 16000, 12000)
    assert len(got) == len(starts) == 6
    for w, s in zip(got, starts, strict=True):
        np.testing.assert_allclose(w, mono[s:s + 16000], atol=2e-5)


def test_bad_files_raise_one_line_reasons(tmp_path):
    empty, garbage = tmp_path / "empty.wav", tmp_path / "garbage.mp3"
    empty.write_bytes(b"")
    garbage.write_bytes(np.random.default_rng(1).bytes(4000))
    sf.write(tmp_path / "short.wav", np.zeros(100, np.float32), 16000)
    reasons = {}
    for name in ("empty.wav", "garbage.mp3", "short.wav", "missing.wav"):
        with pytest.raises(AudioError) as e:
            list(audio.windows(str(tmp_path / name), 16000, 16000, 16000, min_samples=8000))
        reasons[name] = e.value.reason
    assert reasons["empty.wav"] == "empty file (0 bytes)"
    assert reasons["garbage.mp3"].startswith("unreadable or corrupt audio")
    assert reasons["short.wav"].startswith("too short (0.01 s")
    assert reasons["missing.wav"] == "file not found"


def test_taggram_equals_the_training_code_predict_step(run, tmp_path):
    config, workdir = run
    clip = np.random.default_rng(2).uniform(-0.5, 0.5, 16000 * 4).astype(np.float32)
    sf.write(tmp_path / "clip.wav", clip, 16000, subtype="FLOAT")
    result = Tagger.from_workdir(workdir).tag([str(tmp_path / "clip.wav")], progress=False)
    exp = setup.build_experiment(config)
    state, _, _ = setup.restore_for_eval(exp, workdir, "best")
    logits = np.asarray(exp.predict_fn(state.variables(), clip.reshape(4, 16000)))
    np.testing.assert_allclose(result.files[0].taggram, 1 / (1 + np.exp(-logits)), atol=1e-5)


@pytest.mark.slow
def test_tag_a_folder_with_bad_files_and_an_hour_long_file(run, tmp_path):
    _, workdir = run
    music = tmp_path / "music"
    (music / "sub").mkdir(parents=True)
    rng = np.random.default_rng(3)
    sf.write(music / "a.wav", rng.normal(0, 0.1, (44100 * 3, 2)).astype(np.float32), 44100)  # stereo, 44.1 kHz
    sf.write(music / "sub" / "b.flac", rng.normal(0, 0.1, 16000 * 5).astype(np.float32), 16000)
    (music / "empty.wav").write_bytes(b"")
    (music / "corrupt.mp3").write_bytes(rng.bytes(3000))
    with sf.SoundFile(music / "hour.wav", "w", samplerate=8000, channels=1, subtype="PCM_16") as f:
        for minute in range(60):  # written a minute at a time: an hour at 8 kHz, resampled to 16 kHz on reading
            t = np.arange(8000 * 60) / 8000 + 60 * minute
            f.write((0.2 * np.sin(2 * np.pi * (220 + minute) * t)).astype(np.float32))
    out = tmp_path / "out"
    assert cli.main(["tag", str(music), "--workdir", workdir, "--out", str(out), "--batch", "128",
                     "--no_progress"]) == 0
    doc = json.load(open(out / "tags.json"))
    done = {os.path.basename(f["path"]): f for f in doc["files"]}
    assert set(done) == {"a.wav", "b.flac", "hour.wav"}
    assert done["hour.wav"]["windows"] == 3600 and done["b.flac"]["windows"] == 5 and done["a.wav"]["windows"] == 3
    assert {os.path.basename(s["path"]): s["reason"].split(" (")[0] for s in doc["skipped"]} == \
        {"corrupt.mp3": "unreadable or corrupt audio", "empty.wav": "empty file"}
    rows = list(csv.DictReader(open(out / "tags.csv")))
    assert len(rows) == 3 * 5 and {r["tag"] for r in rows} <= set(doc["outputs"])


def test_embed_gives_the_ch6_convnet_feature(run, tmp_path):
    _, workdir = run
    sf.write(tmp_path / "x.wav", np.random.default_rng(4).normal(0, 0.1, 16000 * 3).astype(np.float32), 16000)
    out = tmp_path / "emb"
    layers = [f"ConvBlock_{i}" for i in range(5)]
    assert cli.main(["embed", str(tmp_path), "--workdir", workdir, "--layers", ",".join(layers), "--out", str(out),
                     "--pooling", "mean_std", "--no_progress"]) == 0
    z = np.load(out / "embeddings.npz")
    feature = np.concatenate([z[f"file/{name}"][:, :32] for name in layers], axis=1)  # the mean half
    assert feature.shape == (1, 160)  # Choi thesis §6.2: 5 blocks × 32 channels, global average pooled
    assert z["window/ConvBlock_4"].shape == (3, 32) and z["file/ConvBlock_4"].shape == (1, 64)
    # ConvBlock_4's feature against the block's output computed directly: the mean over frequency and time.
    loaded = from_workdir(workdir)
    windows = np.asarray(list(audio.windows(str(tmp_path / "x.wav"), 16000, 16000, 16000)))
    _, state = loaded.model.apply(loaded.variables, loaded.frontend(windows), train=False,
                                  capture_intermediates=True, mutable=["intermediates"])
    block = np.asarray(state["intermediates"]["ConvBlock_4"]["__call__"][0])
    np.testing.assert_allclose(z["window/ConvBlock_4"], block.mean(axis=(1, 2)), atol=1e-5)
    assert cli.main(["embed", str(tmp_path), "--workdir", workdir, "--layers", "NoSuchBlock", "--out",
                     str(out), "--no_progress"]) == 2
    assert jax.device_count() >= 1


def test_pretrained_musicnn_tags_and_embeds(tmp_path):
    """`--pretrained musicnn-mtt`: MagnaTagATune's 50 tags from 3-s windows; the 200-d penultimate features."""
    sf.write(tmp_path / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000 * 7) / 16000)).astype(np.float32),
             16000)
    tagger = Tagger.from_pretrained("musicnn-mtt")
    assert len(tagger.outputs) == 50 and "guitar" in tagger.outputs
    result = tagger.embed([str(tmp_path)], ["penultimate"], progress=False)
    f = result.files[0]
    assert f.taggram.shape == (2, 50) and f.layers["penultimate"].shape == (2, 200)  # 7 s: two whole 3-s windows
    assert np.all((f.taggram >= 0) & (f.taggram <= 1))
    # The taggram against the port applied directly to musicnn's patches of each window.
    loaded = tagger.loaded
    windows = np.stack(list(audio.windows(str(tmp_path / "tone.wav"), 16000, loaded.window_samples,
                                          loaded.window_samples)))
    features = loaded.frontend(windows)
    assert features.shape == (2, 187, 96)
    direct = 1 / (1 + np.exp(-np.asarray(loaded.model.apply(loaded.variables, features, train=False))))
    np.testing.assert_allclose(f.taggram, direct, atol=1e-5)
    with pytest.raises(Exception, match="unknown pretrained model 'nope'; available: musicnn-msd"):
        Tagger.from_pretrained("nope")
