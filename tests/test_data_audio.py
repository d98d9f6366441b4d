"""Robust audio loading on real files written with soundfile into tmp_path."""

import logging

import numpy as np
import pytest
import soundfile as sf

from mirjax.data.audio import AudioError, fix_length, load_audio, load_many

SR = 16000


def _sine(freq, seconds, sr, amp=0.5):
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(audio, sr):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.fft.rfftfreq(len(audio), 1.0 / sr)[np.argmax(spectrum)]


@pytest.fixture
def wav_dir(tmp_path):
    """A directory with one file per case a real dataset throws at a loader."""
    files = {}

    def write(name, data, sr, subtype=None):
        path = tmp_path / name
        sf.write(path, data, sr, subtype=subtype)
        files[name] = path

    write("normal.wav", _sine(440, 0.5, SR), SR, "PCM_16")
    write("stereo.wav", np.stack([_sine(440, 0.5, SR), _sine(880, 0.5, SR, 0.25)], axis=1), SR, "PCM_16")
    write("sr22050.wav", _sine(440, 1.0, 22050), 22050, "PCM_16")
    write("sr44100.wav", _sine(440, 1.0, 44100), 44100, "FLOAT")
    write("silent.wav", np.zeros(SR // 2, np.float32), SR, "PCM_16")
    write("no_frames.wav", np.zeros(0, np.float32), SR, "PCM_16")
    with_nans = _sine(440, 0.5, SR)
    with_nans[[10, 20]] = np.nan
    with_nans[30] = np.inf
    write("nans.wav", with_nans, SR, "FLOAT")
    write("all_nan.wav", np.full(100, np.nan, np.float32), SR, "FLOAT")
    write("short.wav", _sine(440, 0.25, SR), SR, "FLOAT")

    (tmp_path / "empty.wav").write_bytes(b"")
    files["empty.wav"] = tmp_path / "empty.wav"
    (tmp_path / "truncated.wav").write_bytes(files["normal.wav"].read_bytes()[:30])  # header cut
    files["truncated.wav"] = tmp_path / "truncated.wav"
    (tmp_path / "garbage.mp3").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    files["garbage.mp3"] = tmp_path / "garbage.mp3"
    files["missing.wav"] = tmp_path / "missing.wav"
    return files


def test_normal_wav(wav_dir):
    audio = load_audio(wav_dir["normal.wav"], SR)
    assert audio.dtype == np.float32 and audio.shape == (SR // 2,)
    # 16-bit PCM: within one quantisation step of the written signal.
    np.testing.assert_allclose(audio, _sine(440, 0.5, SR), atol=1.0 / 32768 + 1e-7)


def test_stereo_to_mono_and_multichannel(wav_dir):
    left, right = _sine(440, 0.5, SR), _sine(880, 0.5, SR, 0.25)
    mono = load_audio(wav_dir["stereo.wav"], SR)
    np.testing.assert_allclose(mono, (left + right) / 2, atol=2.0 / 32768)
    both = load_audio(str(wav_dir["stereo.wav"]), SR, mono=False)
    assert both.shape == (2, SR // 2)
    np.testing.assert_allclose(both[1], right, atol=1.0 / 32768 + 1e-7)


@pytest.mark.parametrize("name, native_sr", [("sr22050.wav", 22050), ("sr44100.wav", 44100)])
def test_resampled_to_target_rate(wav_dir, name, native_sr):
    audio = load_audio(wav_dir[name], SR)
    assert audio.dtype == np.float32
    assert audio.shape == (SR,)  # 1 s at any rate -> 16000 samples
    assert _peak_hz(audio, SR) == pytest.approx(440.0, abs=2.0)  # pitch is preserved
    # A 0.5-amplitude sine has RMS 0.5/sqrt(2); check away from the filter's edge effects.
    assert np.sqrt(np.mean(audio[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_silent_file_is_valid(wav_dir):
    audio = load_audio(wav_dir["silent.wav"], SR)
    assert audio.shape == (SR // 2,) and not audio.any()


def test_nan_samples_are_zeroed_and_counted(wav_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="mirjax.data.audio"):
        audio = load_audio(wav_dir["nans.wav"], SR)
    expected = _sine(440, 0.5, SR)
    expected[[10, 20, 30]] = 0.0
    np.testing.assert_array_equal(audio, expected)
    assert any("3 NaN/inf" in r.getMessage() and "nans.wav" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("missing.wav", "not found"),
        ("empty.wav", "empty file"),
        ("no_frames.wav", "no audio samples"),
        ("truncated.wav", "unreadable"),
        ("garbage.mp3", "unreadable"),
        ("all_nan.wav", "NaN"),
    ],
)
def test_bad_files_raise_audio_error(wav_dir, name, reason):
    with pytest.raises(AudioError) as err:
        load_audio(wav_dir[name], SR)
    msg = str(err.value)
    assert name in msg and reason in msg and "\n" not in msg
    assert err.value.path == str(wav_dir[name])


def test_librosa_fallback_when_soundfile_read_fails(wav_dir, monkeypatch):
    def broken_read(*args, **kwargs):
        raise sf.LibsndfileError(0, "simulated: format not supported")

    monkeypatch.setattr(sf, "read", broken_read)
    audio = load_audio(wav_dir["normal.wav"], SR)
    np.testing.assert_allclose(audio, _sine(440, 0.5, SR), atol=1.0 / 32768 + 1e-7)


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile built without MP3")
def test_mp3(tmp_path):
    path = tmp_path / "tone.mp3"
    sf.write(path, _sine(440, 1.0, 44100), 44100, format="MP3")
    audio = load_audio(path, SR)
    # MP3 adds encoder delay/padding, so the length is only approximately 1 s.
    assert abs(audio.shape[0] - SR) < 0.1 * SR
    assert _peak_hz(audio, SR) == pytest.approx(440.0, abs=2.0)


def test_fix_length_modes_closed_forms():
    x = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_array_equal(fix_length(x, 8), [1, 2, 3, 1, 2, 3, 1, 2])
    np.testing.assert_array_equal(fix_length(x, 5, mode="zero"), [1, 2, 3, 0, 0])
    np.testing.assert_array_equal(fix_length(x, 8, mode="reflect"), [1, 2, 3, 2, 1, 2, 3, 2])
    np.testing.assert_array_equal(fix_length(x, 2), [1, 2])  # truncate
    np.testing.assert_array_equal(fix_length(x, 3), x)
    stereo = np.stack([x, -x])
    np.testing.assert_array_equal(fix_length(stereo, 4), [[1, 2, 3, 1], [-1, -2, -3, -1]])
    with pytest.raises(ValueError, match="repeat, zero, reflect"):
        fix_length(x, 4, mode="wrap")


def test_short_clip_repeat_padded(wav_dir):
    short = load_audio(wav_dir["short.wav"], SR)
    assert short.shape == (SR // 4,)
    padded = fix_length(short, SR)
    np.testing.assert_array_equal(padded, np.tile(_sine(440, 0.25, SR), 4))


def test_load_many_keeps_good_and_lists_bad(wav_dir):
    good = ["normal.wav", "sr22050.wav", "silent.wav", "nans.wav", "short.wav"]
    bad = ["empty.wav", "truncated.wav", "garbage.mp3", "missing.wav", "no_frames.wav", "all_nan.wav"]
    paths = [wav_dir[n] for n in good[:2] + bad[:3] + good[2:] + bad[3:]]
    loaded, skipped = load_many(paths, SR, num_samples=SR, progress=False)
    assert list(loaded) == [wav_dir[n] for n in good]  # input order, keyed by the given paths
    assert all(a.shape == (SR,) and a.dtype == np.float32 for a in loaded.values())
    np.testing.assert_array_equal(loaded[wav_dir["short.wav"]], np.tile(_sine(440, 0.25, SR), 4))
    assert [p for p, _ in skipped] == [wav_dir[n] for n in bad[:3] + bad[3:]]
    reasons = dict(skipped)
    assert "not found" in reasons[wav_dir["missing.wav"]]
    assert "empty" in reasons[wav_dir["empty.wav"]]
    assert all(isinstance(r, str) and r for r in reasons.values())
