"""Audio front-end: pure JAX functions from waveforms ``(..., samples)`` to ``(..., frames, bins)`` features.

Parity with librosa (transposed) is tested in ``tests/test_frontend.py``; speed in ``bench/bench_frontend.py``.
Post-compression preprocessing (frequency weighting, standardisation; Choi's thesis Ch. 5) is in
``preprocess.py``, tested in ``tests/test_frontend_preprocess.py``.
"""

from mirjax.frontend import musicnn  # noqa: F401  (registers the "musicnn_logmel" front-end)
from mirjax.frontend.compression import (
    amplitude_to_db,
    log1p_compress,
    log10_compress,
    power_to_db,
)
from mirjax.frontend.mfcc import dct_matrix, delta, mfcc, mfcc_from_db, mfcc_with_deltas
from mirjax.frontend.preprocess import (
    STANDARDIZATIONS,
    WEIGHTINGS,
    a_weighting_db,
    add_db_weights,
    apply_gain_db,
    fft_bin_frequencies,
    mel_bin_frequencies,
    per_frequency_standardize,
    per_sample_standardize,
)
from mirjax.frontend.registry import (
    COMPRESSIONS,
    FRONTENDS,
    make_frontend,
    output_bins,
    output_shape,
    register,
)
from mirjax.frontend.spectral import (
    apply_filterbank,
    frame,
    get_window,
    hz_to_mel,
    mel_filterbank,
    mel_frequencies,
    mel_to_hz,
    melspectrogram,
    output_frames,
    spectrogram,
    stft,
)

__all__ = [
    "COMPRESSIONS", "FRONTENDS", "STANDARDIZATIONS", "WEIGHTINGS", "a_weighting_db", "add_db_weights",
    "amplitude_to_db", "apply_filterbank", "apply_gain_db", "dct_matrix", "delta", "fft_bin_frequencies",
    "frame", "get_window", "hz_to_mel", "log10_compress", "log1p_compress", "make_frontend",
    "mel_bin_frequencies", "mel_filterbank", "mel_frequencies", "mel_to_hz", "melspectrogram", "mfcc",
    "mfcc_from_db", "mfcc_with_deltas", "output_bins", "output_frames", "output_shape",
    "per_frequency_standardize", "per_sample_standardize", "power_to_db", "register", "spectrogram", "stft",
]
