"""The KCNN through train.py: the `audio_words` front-end against the study's numpy path, the vocabulary file, and
`mirjax words` → `mirjax train` (ULT) → `mirjax eval` on scorebank/tiny."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from mirjax.cli import main
from mirjax.config import load_config
from mirjax.errors import UserError
from mirjax.features import audio_words as aw
from mirjax.frontend import make_frontend
from mirjax.training import setup
from mirjax.training.optim import make_optimizer

RATE = 16000


def _clips(n: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    tones = np.sin(2 * np.pi * rng.uniform(100, 2000, (n, 1)) * t) * rng.uniform(0.1, 0.9, (n, 1))
    return (tones + 0.05 * rng.normal(size=tones.shape)).astype(np.float32)


@pytest.mark.parametrize("joint", [False, True])
def test_frontend_words_match_the_numpy_path(tmp_path, joint):
    cfg, f = aw.FrameConfig(sample_rate=RATE), 3
    train = [aw.frame_features(x, cfg) for x in _clips(6, 1.0, 0)]
    segs = {t: np.concatenate([aw.segments(fr[t], f) for fr in train]) for t in aw.FEATURE_TYPES}
    vocab = aw.fit_vocabulary(segs, aw.FEATURE_TYPES, 8, seed=1, joint=joint, num_iters=5)
    path = str(tmp_path / "v.npz")
    aw.save_vocabulary(path, vocab, cfg, f)
    again, cfg2, f2 = aw.load_vocabulary(path)
    assert (cfg2, f2, again.types, again.joint) == (cfg, f, vocab.types, joint)

    audio = _clips(3, 0.9, 7)  # 29 frames → 9 segments, the incomplete last one dropped
    got = np.asarray(jax.jit(make_frontend("audio_words", vocabulary=path, sample_rate=RATE))(audio))
    want = np.stack([vocab.encode({t: aw.segments(v, f) for t, v in aw.frame_features(x, cfg).items()})
                     for x in audio])
    assert got.shape == want.shape == (3, 9, 1 if joint else 3) and got.dtype == np.int32
    np.testing.assert_array_equal(got, want)


def test_vocabulary_errors_are_one_line(tmp_path):
    with pytest.raises(UserError, match="no audio-word vocabulary at .*mirjax words"):
        make_frontend("audio_words", vocabulary=str(tmp_path / "missing.npz"))
    with pytest.raises(UserError, match="needs frontend.vocabulary"):
        make_frontend("audio_words")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(UserError, match="is not an audio-word vocabulary"):
        make_frontend("audio_words", vocabulary=str(tmp_path / "other.npz"))
    cfg = aw.FrameConfig(sample_rate=RATE)
    segs = {"mel": aw.segments(aw.frame_features(_clips(1, 1.0, 0)[0], cfg, ["mel"])["mel"], 2)}
    aw.save_vocabulary(str(tmp_path / "v.npz"), aw.fit_vocabulary(segs, ["mel"], 4, num_iters=2), cfg, 2)
    with pytest.raises(UserError, match="fitted at 16000 Hz, the data is at 22050 Hz"):
        make_frontend("audio_words", vocabulary=str(tmp_path / "v.npz"), sample_rate=22050)


def test_words_train_ult_and_eval_through_the_cli(tiny_data_dir, tmp_path, capsys):
    vocab, work = str(tmp_path / "v.npz"), str(tmp_path / "run")
    over = [f"--config.dataset.data_dir={tiny_data_dir}", f"--config.frontend.vocabulary={vocab}",
            f"--config.model.vocabulary={vocab}"]
    cfg = ["--config", "configs/zhang_kcnn_train.py:ult,tiny"]
    assert main(["words", *cfg, *over, "--num_words", "16", "--max_clips", "12"]) == 0
    assert "audio-word vocabulary" in capsys.readouterr().out
    assert main(["train", *cfg, "--workdir", work, *over]) == 0
    assert main(["eval", *cfg, "--workdir", work, *over]) == 0
    report = json.load(open(f"{work}/report.json"))
    assert report["num_clips"] == 9 and 0.0 <= report["accuracy"] <= 1.0

    config = load_config("configs/zhang_kcnn_train.py:ult,tiny")
    config.dataset.data_dir, config.frontend.vocabulary, config.model.vocabulary = tiny_data_dir, vocab, vocab
    exp = setup.build_experiment(config)
    state, _, step = setup.restore_for_eval(exp, work, "latest")
    params = jax.device_get(state.params)
    assert step == 4
    centroids, _, _ = aw.load_vocabulary(vocab)
    for i, cb in enumerate(centroids.codebooks):  # ULT: the tables are the centroids, bit for bit, after training
        np.testing.assert_array_equal(np.asarray(params[f"table_{i}"]), cb.centroids)
    fresh = jax.device_get(exp.init_state(make_optimizer(config.optim, 4)[0]).params)
    assert np.abs(params["Dense_0"]["kernel"] - fresh["Dense_0"]["kernel"]).max() > 0  # the rest trained
