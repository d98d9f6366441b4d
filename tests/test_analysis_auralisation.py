"""Auralisation (Choi thesis §7.2): the JAX deconvnet against a direct numpy transcription of the algorithm of Choi's
public example code (`get_deconve_mask`: scipy `convolve2d` in 'same' mode, loops over windows for the switches,
nearest-neighbour zoom for the unpooling), the iSTFT round trip, Table 7-A, bad input and the CLI."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import scipy.ndimage
import soundfile as sf
from scipy import signal

from mirjax import cli
from mirjax.analysis import auralisation as au
from mirjax.errors import UserError

# ------------------------------------------------------------------------------------------------------------------
# Reference: the repository's algorithm, transcribed to Python 3 / numpy (weights as (out, in, rows, cols), applied
# with true convolution, images (channels, rows, cols), 2×2 pools, biases ignored).
# ------------------------------------------------------------------------------------------------------------------


def _ref_convolve(images, weights):
    out = np.zeros((weights.shape[0],) + images.shape[1:])
    for i in range(weights.shape[1]):
        for o in range(weights.shape[0]):
            out[o] += signal.convolve2d(images[i], weights[o, i], mode="same")
    return out


def _ref_deconvolve(images, weights):
    flipped = weights[:, :, ::-1, ::-1]
    return _ref_convolve(images, np.transpose(flipped, (1, 0, 2, 3)))


def _ref_mp2d(images, ds=2):
    n, rows, cols = images.shape
    out = np.zeros((n, rows // ds, cols // ds))
    switch = np.zeros((n, rows, cols))
    for k, image in enumerate(images):
        for r in range(rows // ds):
            for c in range(cols // ds):
                window = image[ds * r:ds * r + ds, ds * c:ds * c + ds]
                out[k, r, c] = np.max(window)
                a = np.argmax(window)
                switch[k, ds * r + a // ds, ds * c + a % ds] = 1
    return out, switch


def _ref_unpool(images, switches, ds=2):
    out = np.zeros(switches.shape)
    for k, image in enumerate(images):
        r, c = image.shape
        out[k, :r * ds, :c * ds] = scipy.ndimage.zoom(image, ds, order=0) * switches[k, :r * ds, :c * ds]
    return out


def _ref_masks(W, mag, depth):
    """`get_deconve_mask`: masks (features, rows, cols) of every feature of conv-pool level `depth`."""
    relu = lambda x: np.maximum(0.0, x)  # noqa: E731
    maps, switches = [mag[None]], []
    for d in range(depth):
        pooled, sw = _ref_mp2d(relu(_ref_convolve(maps[-1], W[d])))
        maps.append(pooled)
        switches.append(sw)
    top = maps[-1]
    masks = []
    for k in range(top.shape[0]):
        g = top[k:k + 1]
        for d in reversed(range(depth)):
            sw = switches[d][k:k + 1] if d == depth - 1 else switches[d]
            w = W[d][k:k + 1] if d == depth - 1 else W[d]
            g = _ref_deconvolve(relu(_ref_unpool(g, sw)), w)
        masks.append(g[0])
    return np.stack(masks)


def _net_from_repo_weights(W):
    """The same net in mirjax's layout: kernels (kh, kw, in, out) applied as cross-correlation."""
    kernels = tuple(np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(2, 3, 1, 0)).astype(np.float32) for w in W)
    return au.ReluConvnet(kernels, tuple(np.zeros(k.shape[-1], np.float32) for k in kernels), ((2, 2),) * len(W))


@pytest.mark.parametrize("depth,shape", [(1, (13, 11)), (1, (16, 9)), (2, (19, 14))])
def test_deconvnet_matches_a_numpy_transcription_of_the_repository_algorithm(depth, shape):
    rng = np.random.default_rng(depth + shape[0])
    widths = [1, 5, 4][:depth + 1]
    W = [rng.normal(size=(widths[d + 1], widths[d], 3, 3)) for d in range(depth)]
    mag = np.abs(rng.normal(size=shape))  # (rows = bins, cols = frames)
    expected = _ref_masks(W, mag, depth)
    masks = au.deconvolve(_net_from_repo_weights(W), mag.T.astype(np.float32), depth, range(widths[-1]))
    assert masks.shape == (widths[-1],) + shape
    assert np.count_nonzero(expected) > 50  # not a trivially all-zero case
    np.testing.assert_allclose(masks, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_istft_round_trip_of_an_all_ones_mask_returns_the_input():
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.1, 16000).astype(np.float32)
    spec = au.stft_matrix(audio, 512, 256)
    # Reference STFT written out (librosa.stft's definition; calling it costs a long numba compile): reflect-pad by
    # n_fft/2, periodic Hann frames every hop, rfft.
    padded = np.pad(audio.astype(np.float64), 256, mode="reflect")
    frames = np.stack([padded[t * 256:t * 256 + 512] for t in range(1 + (padded.size - 512) // 256)])
    reference = np.fft.rfft(frames * signal.get_window("hann", 512, fftbins=True), axis=-1).T
    np.testing.assert_allclose(spec, reference, atol=2e-4)
    y = au.auralise(spec, np.ones(spec.shape, np.float32), 256, audio.size, normalize=False)
    np.testing.assert_allclose(y, audio, atol=1e-5)
    half = au.auralise(spec, np.full(spec.shape, 0.5, np.float32), 256, audio.size, normalize=False)
    np.testing.assert_allclose(half, 0.5 * audio, atol=1e-5)


def test_receptive_fields_match_table_7a_and_hand_computed_values():
    rows = au.receptive_fields([3] * 5, [(2, 2)] * 5, 11025, 512, 256)
    thesis_ms, thesis_hz = [93, 162, 302, 580, 1137], [86, 151, 280, 538, 1270]
    for row, ms, hz in zip(rows, thesis_ms, thesis_hz):
        assert abs(row["thesis_width_ms"] - ms) < 1.0
        if row["layer"] < 5:  # the thesis's layer-5 height (1270 Hz) does not follow its own rule: 49 bins = 1055 Hz
            assert abs(row["thesis_height_hz"] - hz) < 1.0
    assert abs(rows[4]["thesis_height_hz"] - 49 * 11025 / 512) < 1e-6
    # True receptive fields of 3×3 convs with 2×2 pools: 3, 3+2+2·2 = 8, 8+2+4·2 = 18, 38, 78 cells.
    assert [r["rf_frames"] for r in rows] == [3, 8, 18, 38, 78] == [r["rf_bins"] for r in rows]
    assert rows[1]["rf_width_ms"] == pytest.approx(1000 * (7 * 256 + 512) / 11025)
    assert rows[2]["rf_height_hz"] == pytest.approx(18 * 11025 / 512)
    # Unequal pools: layer 2 of (freq, time) pools (2, 4): jump 2 bins, 4 frames.
    uneq = au.receptive_fields([3, 3], [(2, 4), (2, 2)], 16000, 512, 256)
    assert (uneq[1]["rf_bins"], uneq[1]["rf_frames"]) == (3 + 1 + 2 * 2, 3 + 3 + 4 * 2)
    assert uneq[1]["thesis_width_ms"] == pytest.approx((3 * 4 + 1) * 16.0)
    from mirjax.config import load_config
    c = load_config("configs/choi_auralisation.py")
    from_config = au.receptive_fields_from_config(c.model.to_dict(), c.frontend.to_dict())
    assert [r["thesis_width_ms"] for r in from_config] == pytest.approx([64.0, 112.0, 208.0, 400.0, 784.0])


def test_bad_indices_and_unsupported_models_are_one_line_errors(tmp_path):
    net = _net_from_repo_weights([np.ones((4, 1, 3, 3)), np.ones((6, 4, 3, 3))])
    with pytest.raises(UserError, match=r"^layer 3 is out of range: the model has conv layers 1\.\.2$"):
        au.check_indices(net, 3, [0])
    with pytest.raises(UserError, match=r"^feature 6 is out of range for layer 2: it has feature maps 0\.\.5$"):
        au.check_indices(net, 2, [0, 6])
    with pytest.raises(UserError, match="--features must be integers"):
        au.parse_indices("a-b", "--features")
    assert au.parse_indices("0-3,9,2", "--features") == [0, 1, 2, 3, 9]
    bad = {"model": {"name": "compact_convnet", "time_pools": [2] * 5}, "frontend": {"name": "logmel"}}
    (tmp_path / "config.json").write_text(json.dumps(bad))
    with pytest.raises(UserError, match=r"activation='elu', batch_norm=True; auralisation needs activation='relu'"):
        au.workdir_sections(str(tmp_path))
    bad["model"].update(activation="relu", batch_norm=False)
    (tmp_path / "config.json").write_text(json.dumps(bad))
    with pytest.raises(UserError, match="front-end 'logmel' is not an STFT"):
        au.workdir_sections(str(tmp_path))
    bad["model"]["name"] = "crnn"
    (tmp_path / "config.json").write_text(json.dumps(bad))
    with pytest.raises(UserError, match="holds a 'crnn' model; auralisation needs a ReLU compact_convnet"):
        au.workdir_sections(str(tmp_path))


@pytest.fixture(scope="module")
def workdir(tiny_data_dir, tmp_path_factory):
    """configs/choi_auralisation.py:tiny trained 2 steps on 1-s crops of scorebank/tiny."""
    from mirjax.config import load_config
    from mirjax.training import trainer
    c = load_config("configs/choi_auralisation.py:tiny")
    c.dataset.data_dir = tiny_data_dir
    c.dataset.crop_seconds = 1.0
    c.dataset.shuffle_buffer = 64
    c.model.channels = 8
    c.model.hidden_units = 8
    c.train.update(dict(num_steps=2, batch_size=4, eval_every=2, checkpoint_every=2, eval_crops=1, progress=False))
    path = str(tmp_path_factory.mktemp("aur"))
    trainer.train_and_evaluate(c, path)
    return path


@pytest.mark.slow
def test_cli_writes_wavs_and_pngs_and_reports_bad_input_in_one_line(workdir, tmp_path, capsys):
    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    clip = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.3 * ((t % 0.25) < 0.01)).astype(np.float32)
    sf.write(tmp_path / "clip.wav", clip, sr)
    out = tmp_path / "out"
    args = ["analyze", "auralise", "--workdir", workdir, "--audio", str(tmp_path / "clip.wav"), "--out", str(out)]
    assert cli.main(args + ["--layer", "3", "--features", "0,7", "--seconds", "1.5"]) == 0
    for layer in (3,):
        masks = np.load(out / f"layer{layer}" / "masks.npy")
        assert masks.shape == (2, 257, 94)
        for f in (0, 7):
            y, rate = sf.read(out / f"layer{layer}" / f"feature{f:02d}.wav")
            assert rate == sr and y.shape == clip.shape
            assert (out / f"layer{layer}" / f"feature{f:02d}.png").stat().st_size > 0
    summary = json.load(open(out / "auralise.json"))
    assert set(summary["features"]) == {"3-0", "3-7"} and len(summary["receptive_fields"]) == 5
    assert os.path.exists(out / "overview.png")
    capsys.readouterr()

    (tmp_path / "corrupt.wav").write_bytes(b"RIFF" + bytes(range(200)))
    for extra, message in [(["--layer", "6"], "layer 6 is out of range: the model has conv layers 1..5"),
                           (["--features", "8"], "feature 8 is out of range for layer 1: it has feature maps 0..7"),
                           (["--audio", str(tmp_path / "missing.wav")], "missing.wav: file not found"),
                           (["--audio", str(tmp_path / "corrupt.wav")], "corrupt.wav")]:
        assert cli.main(args + extra) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_the_config_builds_the_thesis_net_relu_no_batch_norm_with_the_closed_form_parameter_count():
    import jax

    from mirjax.config import load_config, section_kwargs
    from mirjax.models import create_model
    c = load_config("configs/choi_auralisation.py")
    model = create_model(c.model.name, 9, **section_kwargs(c.model))
    shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), np.zeros((1, 251, 257), np.float32)))
    assert set(shapes) == {"params"}  # no batch statistics
    count = sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(shapes))
    # 5 conv 3×3 layers of 64 maps with biases, a 64-unit hidden layer, 9 outputs (Choi thesis §7.2.4).
    assert count == (9 * 1 * 64 + 64) + 4 * (9 * 64 * 64 + 64) + (64 * 64 + 64) + (64 * 9 + 9)
