"""Choi Ch. 6 transfer study: the convnet feature per strategy (checked against a by-hand block), the repeat rule,
the random network's batch-norm calibration, MFCC-120 against librosa, the SVM grid and nested CV against
scikit-learn run directly, and the study command end to end on a tiny dataset of its own (cache reuse, one-line
errors). No scorebank build: the datasets here are generated in a second."""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest
import scipy.fft
import soxr
import tensorflow_datasets as tfds
from sklearn.model_selection import ParameterGrid, StratifiedKFold, cross_val_score
from sklearn.svm import SVC

from mirjax import cli
from mirjax.config import load_config, section_kwargs
from mirjax.data import manual
from mirjax.errors import UserError
from mirjax.frontend import make_frontend
from mirjax.inference import model as model_lib
from mirjax.models import create_model
from mirjax.studies.transfer import classifiers, features as F, run, targets as T

SR = 16000
CLASSES = ("low", "mid", "high")


# --- a tiny dataset and source of our own ------------------------------------------------------------------------

def _clip(i: int) -> tuple[np.ndarray, int]:
    """Clip i: a tone whose pitch says its class, 0.5–2.5 s long (varied), with a little noise."""
    rng = np.random.default_rng(i)
    label = i % 3
    n = int(SR * (0.5 + (i * 7 % 5) * 0.5))
    t = np.arange(n) / SR
    x = 0.4 * np.sin(2 * np.pi * (220.0 * 2 ** label) * t) + 0.02 * rng.normal(size=n)
    return (x * 32767).astype(np.int16), label


class TransferFake(tfds.core.GeneratorBasedBuilder):
    """24 tones of 3 classes in 12 groups (pairs) with a float target: a target dataset in the builders' layout."""
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "audio": manual.whole_clip_audio(SR, "tone"), "label": tfds.features.ClassLabel(names=list(CLASSES)),
            "arousal": tfds.features.Scalar(dtype=np.float32), "id": tfds.features.Text(),
            "group": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i in range(24):
            audio, label = _clip(i)
            yield str(i), {"audio": audio, "label": label, "arousal": float(label) + 0.1 * (i % 4),
                           "id": f"c{i}", "group": f"g{i // 2}"}


class TransferFakeManual(TransferFake):
    """The same, needing a manual directory."""
    MANUAL_DOWNLOAD_INSTRUCTIONS = "put the tones in the manual directory"


FAKE_TARGETS = {
    "fake_label": T.Target("fake_label", "transfer_fake", "label", T.CLASSIFICATION),
    "fake_arousal": T.Target("fake_arousal", "transfer_fake", "arousal", T.REGRESSION),
    "fake_manual": T.Target("fake_manual", "transfer_fake_manual", "label", T.CLASSIFICATION),
}


def _convnet(seed: int = 0) -> model_lib.LoadedModel:
    """configs/choi_transfer.py's front-end and Compact-convnet with initial weights, as a LoadedModel."""
    c = load_config("configs/choi_transfer.py:tiny")
    frontend = make_frontend(c.frontend.name, **section_kwargs(c.frontend))
    model = create_model("compact_convnet", 4, **section_kwargs(c.model))
    variables = jax.jit(lambda k: model.init(k, frontend(jnp.zeros((1, 2 * SR))), train=False))(
        jax.random.PRNGKey(seed))
    card = {"model": {"name": "compact_convnet"}, "outputs": list("abcd"), "activation": "sigmoid",
            "input": {"kind": "audio", "shape": [2 * SR], "sample_rate": SR}}
    return model_lib.LoadedModel(card, frontend, model, variables, "test convnet")


def _mlp() -> model_lib.LoadedModel:
    frontend = make_frontend("logmel", sample_rate=SR, n_mels=8)
    model = create_model("mlp", 2)
    variables = model.init(jax.random.PRNGKey(0), frontend(jnp.zeros((1, SR))), train=False)
    card = {"model": {"name": "mlp"}, "outputs": ["a", "b"], "input": {"kind": "audio", "shape": [SR],
                                                                         "sample_rate": SR}}
    return model_lib.LoadedModel(card, frontend, model, variables, "test mlp")


@pytest.fixture(scope="module")
def convnet():
    return _convnet()


# --- the convnet feature ----------------------------------------------------------------------------------------

def test_strategies_are_the_31_layer_combinations():
    s = F.strategies()
    assert len(s) == 31 and len(set(s)) == 31 and s[0] == "1" and s[-1] == "12345"
    assert sum(len(x) == 4 for x in s) == 5 and len(F.THESIS_STRATEGIES) == 28  # the thesis shows 2 of the 5 quads
    assert all(x in s for x in ("135", "1234", "2345")) and not any(x in F.THESIS_STRATEGIES
                                                                       for x in ("1235", "1245", "1345"))


def test_feature_shapes_per_strategy_and_block_one_by_hand(convnet):
    """32 values per block; block 1 = mean over (freq, time) of max-pool(ELU(BN(conv(input-normalised log-mel))))."""
    ex = F.BlockExtractor(convnet, F.layer_set_of(convnet), batch_size=2, input_seconds=3.0)
    clips = [_clip(i)[0].astype(np.float32) / 32768 for i in (0, 1, 5)]
    blocks = ex(clips)
    for s in F.strategies():
        assert F.strategy_matrix(blocks, s).shape == (3, 32 * len(s))
    # Block 1 by hand from the variables (eval mode: running statistics).
    v = convnet.variables
    x = convnet.frontend(jnp.asarray(F.fit_to_input(clips[2], 3 * SR))[None])  # (1, frames, 96)
    st = v["batch_stats"]["input_norm"]
    x = (x - st["mean"]) / jnp.sqrt(st["var"] + 1e-5)
    x = jnp.swapaxes(x, 1, 2)[..., None]  # (1, 96 bins, frames, 1)
    p, s = v["params"]["ConvBlock_0"], v["batch_stats"]["ConvBlock_0"]
    y = jax.lax.conv_general_dilated(x, p["Conv_0"]["kernel"], (1, 1), ((1, 1), (1, 1)),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["Conv_0"]["bias"]
    bn = p["BatchNorm_0"]
    y = (y - s["BatchNorm_0"]["mean"]) / jnp.sqrt(s["BatchNorm_0"]["var"] + 1e-3) * bn["scale"] + bn["bias"]
    y = jax.nn.elu(y)
    h, w = y.shape[1] // 2 * 2, y.shape[2] // 4 * 4  # the first pool is (2 bins, 4 frames)
    y = y[:, :h, :w].reshape(1, h // 2, 2, w // 4, 4, 32).max(axis=(2, 4))
    np.testing.assert_allclose(blocks[1][2], np.asarray(y.mean(axis=(1, 2)))[0], rtol=2e-4, atol=2e-5)


def test_short_clips_are_repeated_not_zero_padded(convnet):
    """§6.2.2: a 1-s clip gives the features of itself tiled to the input length, not of itself plus zeros."""
    ex = F.BlockExtractor(convnet, F.layer_set_of(convnet), batch_size=4, input_seconds=4.0)
    short = _clip(3)[0][:SR].astype(np.float32) / 32768
    tiled = np.concatenate([short] * 4)
    zero = np.concatenate([short, np.zeros(3 * SR, np.float32)])
    got, by_tiling, by_zeros = (ex([c])[5][0] for c in (short, tiled, zero))
    np.testing.assert_allclose(got, by_tiling, rtol=1e-5, atol=1e-6)
    assert np.abs(got - by_zeros).max() > 1e-3
    long = np.concatenate([short, np.ones(5 * SR, np.float32)])
    assert np.array_equal(F.fit_to_input(long, 2 * SR), long[:2 * SR])
    assert np.array_equal(F.fit_to_input(short[:100], 250), np.concatenate([short[:100]] * 3)[:250])


def test_random_network_is_he_normal_with_batch_norms_from_the_calibration_batch(convnet):
    cal = np.stack([F.fit_to_input(_clip(i)[0].astype(np.float32) / 32768, SR) for i in range(4)])
    rnd = F.random_model(convnet, cal, seed=3)
    k = np.asarray(rnd.variables["params"]["ConvBlock_2"]["Conv_0"]["kernel"])  # 3·3·32 inputs
    assert abs(k.std() / np.sqrt(2.0 / (3 * 3 * 32)) - 1) < 0.05 and abs(k.mean()) < 0.01
    assert not np.allclose(k, convnet.variables["params"]["ConvBlock_2"]["Conv_0"]["kernel"])
    # Eval mode with the calibrated statistics = train mode (batch statistics) on the calibration batch itself.
    feats = rnd.frontend(jnp.asarray(cal))
    with_batch_stats, calibrated = jax.jit(lambda v: (
        rnd.model.apply(v, feats, train=True, mutable=["batch_stats"])[0], rnd.model.apply(v, feats, train=False)))(
        rnd.variables)
    np.testing.assert_allclose(calibrated, with_batch_stats, rtol=1e-3, atol=1e-3 * float(jnp.abs(calibrated).max()))


def test_a_source_without_the_blocks_is_one_line():
    with pytest.raises(UserError, match="none of the layer sets") as e:
        F.layer_set_of(_mlp())
    assert "\n" not in str(e.value)


# --- MFCC baseline ----------------------------------------------------------------------------------------------

def _numpy_mfcc(y: np.ndarray, sr: int = 12000, n_fft: int = 2048, hop: int = 512, n_mels: int = 128) -> np.ndarray:
    """librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20) spelt out in numpy, (frames, 20): centred frames with zero
    padding, periodic Hann, |rfft|², librosa's Slaney mel filters, dB (ref 1, amin 1e-10, top_db 80), DCT-II
    (ortho). (mirjax.frontend.mfcc itself is checked against librosa.feature.mfcc in tests/test_frontend.py; this
    avoids compiling librosa.feature's numba kernels, a minute in a fresh test cache.)"""
    padded = np.pad(y.astype(np.float64), n_fft // 2)
    frames = np.stack([padded[i * hop:i * hop + n_fft] for i in range(1 + len(y) // hop)])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    db = 10 * np.log10(np.maximum(power @ librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels).T, 1e-10))
    return scipy.fft.dct(np.maximum(db, db.max() - 80.0), type=2, norm="ortho", axis=1)[:, :20]


@pytest.mark.parametrize("seconds", [0.05, 2.0, 30.5])
def test_mfcc_120_matches_a_direct_computation(seconds):
    """Resampled to 12 kHz, first 29 s, ≥ 1,024 samples (0.05 s is shorter); 20 MFCCs with librosa's defaults;
    [mean, std] of MFCC, Δ, ΔΔ (first differences, as the thesis's repository)."""
    n = int(SR * seconds)
    t = np.arange(n) / SR
    x = (0.3 * np.sin(2 * np.pi * 330 * t * (1 + 0.2 * t)) + 0.05 * np.random.default_rng(0).normal(size=n))
    x = x.astype(np.float32)
    y = soxr.resample(x, SR, 12000, quality="HQ")[:29 * 12000]  # = librosa.resample(res_type="soxr_hq")
    y = np.pad(y, (0, max(0, 1024 - len(y))))
    m = _numpy_mfcc(y)
    d = np.diff(m, axis=0)
    dd = np.diff(d, axis=0)
    ref = np.concatenate([f(a, axis=0) for a in (m, d, dd) for f in (np.mean, np.std)])
    got = F.mfcc_vector(x, SR)
    assert got.shape == (120,)
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=0.02)


# --- classifiers ------------------------------------------------------------------------------------------------

def _problem(y, groups=None, kind=T.CLASSIFICATION, folds=None):
    return T.Problem(T.Target("t", "d", "label", kind), np.asarray(y), groups, folds, [])


def test_the_thesis_grid():
    grid = classifiers.get_grid("full")
    points = list(ParameterGrid(classifiers.param_grid(grid)))
    assert len(points) == classifiers.grid_size(grid) == 64
    gammas = {p["svm__gamma"] for p in points if p["svm__kernel"] == "rbf"}
    assert gammas == {2.0 ** -3, 2.0 ** -5, 2.0 ** -7, 2.0 ** -9, 2.0 ** -11, 2.0 ** -13, "auto"}
    assert {p["svm__C"] for p in points} == {0.1, 2.0, 8.0, 32.0}
    X = np.random.default_rng(0).normal(size=(20, 7))
    assert SVC(gamma="auto").fit(X, np.arange(20) % 2)._gamma == 1 / 7  # 'auto' is 1/N_f


def test_grid_search_finds_the_rbf_point_and_reports_its_cv_score():
    """Two rings: only an RBF of the right width separates them. The reported score is sklearn's own
    cross-validated score of the chosen point on the same folds."""
    rng = np.random.default_rng(0)
    n = 120
    radius = np.where(np.arange(n) % 2, 1.0, 3.0)
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1) + 0.1 * rng.normal(size=(n, 2))
    y = np.arange(n) % 2
    grid = classifiers.Grid(gammas=(2.0 ** -13, 0.5), cs=(2.0,), scalers=(False,))
    r = classifiers.evaluate(X, _problem(y), grid, n_folds=5, per_class=True)
    assert r["params"] == {"standardise": False, "kernel": "rbf", "gamma": 0.5, "C": 2.0}
    cv = StratifiedKFold(5, shuffle=True, random_state=classifiers.SEED)
    direct = cross_val_score(SVC(kernel="rbf", gamma=0.5, C=2.0), X, y, cv=cv).mean()
    assert r["cv"] == pytest.approx(direct) and r["cv"] > 0.95 and r["folds"] == 5
    assert len(r["per_class"]) == 2 and min(r["per_class"]) > 0.9


def test_nested_score_equals_the_selected_one_with_one_grid_point_and_is_lower_on_noise():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 5))
    y = rng.integers(0, 2, 60)
    one = classifiers.Grid(gammas=(), cs=(1.0,), scalers=(False,))  # the linear point alone
    r = classifiers.evaluate(X, _problem(y), one, n_folds=5, nested=True, inner_folds=3)
    assert r["nested"] == pytest.approx(r["cv"])  # no selection: the same folds, the same score
    r = classifiers.evaluate(X, _problem(y), classifiers.get_grid("small"), n_folds=5, nested=True, inner_folds=3)
    assert r["nested"] < r["cv"]  # random labels: the maximum over 16 points is optimistic


def test_folds_keep_groups_apart_and_use_predefined_folds():
    y = np.arange(40) % 4
    groups = np.repeat(np.arange(10), 4)
    for kind, yy in ((T.CLASSIFICATION, y), (T.REGRESSION, y.astype(float))):
        p = _problem(yy, groups, kind)
        for cv, g in (classifiers.outer_cv(p, 5), classifiers.inner_cv(p, 3)):
            for train, test in cv.split(np.zeros((40, 1)), yy, g):
                assert not set(groups[train]) & set(groups[test])
    folds = np.repeat(np.arange(1, 5), 10)
    cv, _ = classifiers.outer_cv(_problem(y, groups, folds=folds), 10)
    assert [sorted(set(folds[test])) for _, test in cv.split()] == [[1], [2], [3], [4]]


# --- the command ------------------------------------------------------------------------------------------------

def test_every_target_names_features_its_builder_has(tmp_path):
    """The task table against the builders' declared features (no build: `info` needs no data)."""
    import mirjax.data  # noqa: F401  (registers the builders)
    for t in T.TARGETS.values():
        if t.name in FAKE_TARGETS:
            continue
        features = tfds.builder(T.dataset_name(t, "tiny"), data_dir=str(tmp_path)).info.features
        assert t.label in features and "audio" in features, t.name
        assert isinstance(features[t.label], tfds.features.ClassLabel) == (t.kind == T.CLASSIFICATION), t.name
        assert not t.group or t.group in features, t.name
        assert not t.fold or t.fold in features, t.name


@pytest.fixture
def fake_env(tmp_path, monkeypatch, convnet):
    data_dir = str(tmp_path / "tfds")
    for name, target in FAKE_TARGETS.items():
        monkeypatch.setitem(T.TARGETS, name, target)
    monkeypatch.setitem(model_lib.PRETRAINED, "test-convnet", lambda: convnet)
    monkeypatch.setitem(model_lib.PRETRAINED, "test-mlp", _mlp)
    return data_dir


def _study(out, data_dir, *extra):
    return cli.main(["study", "transfer", "--source", "test-convnet", "--tasks", "fake_label,fake_arousal",
                     "--out", str(out), "--data_dir", data_dir, "--grid", "tiny", "--folds", "3",
                     "--inner_folds", "2", "--seconds", "2", *extra])


def test_study_end_to_end_then_from_its_cache(fake_env, tmp_path, monkeypatch):
    out = tmp_path / "study"
    assert _study(out, fake_env) == 0
    for f in ("transfer_test-convnet.md", "transfer_test-convnet.csv", "summary_test-convnet.png",
              "strategies_test-convnet_fake_label.png", "strategies_test-convnet_fake_arousal.png",
              "per_class_test-convnet_fake_label.png"):
        assert os.path.getsize(out / f) > 0, f
    saved = json.load(open(out / "transfer_test-convnet.json"))
    res = saved["results"]["fake_label"]
    assert len(res) == 64 and res["12345"]["dims"] == 160 and res["mfcc"]["dims"] == 120
    assert res["12345+mfcc"]["dims"] == 280 and res["random:135"]["dims"] == 96
    assert all("nested" in res[k] for k in run.summary_keys(res))
    assert saved["summary"][1]["metric"] == "r2"
    table = (out / "transfer_test-convnet.md").read_text()
    assert table.count("\n| 1") >= 16 and "1235†" in table

    # A rerun reads every feature and score from the cache.
    def must_not_run(*a, **k):
        raise AssertionError("cached results must be reused")
    monkeypatch.setattr(F.BlockExtractor, "__call__", must_not_run)
    monkeypatch.setattr(F, "mfcc_vector", must_not_run)
    monkeypatch.setattr(classifiers, "evaluate", must_not_run)
    monkeypatch.setattr(classifiers, "nested_score", must_not_run)
    assert _study(out, fake_env) == 0
    assert json.load(open(out / "transfer_test-convnet.json"))["results"] == saved["results"]


@pytest.mark.parametrize("args, message", [
    (["--tasks", "fake_label,genre_x"], "unknown task(s) genre_x"),
    (["--tasks", "fake_manual"], "manual directory"),
    (["--tasks", "fake_label", "--source", "test-mlp"], "none of the layer sets"),
    (["--tasks", "fake_label", "--source", "no/such/workdir"], "neither 'scorebank'"),
    (["--tasks", "fake_label", "--grid", "huge"], "unknown grid 'huge'"),
])
def test_errors_are_one_line(fake_env, tmp_path, capsys, args, message):
    base = ["study", "transfer", "--source", "test-convnet", "--out", str(tmp_path / "o"), "--data_dir", fake_env]
    assert cli.main(base + args) == 2
    err = capsys.readouterr().err.strip()  # TFDS's progress bars may come first
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and message in errors[0] and err.endswith(errors[0]), err
