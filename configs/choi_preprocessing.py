"""Base experiment of Choi's preprocessing study (thesis Ch. 5) on scorebank; `mirjax study
preprocessing` varies it (log/linear magnitude, mel/STFT, frequency weighting, per-sample standardisation,
×10 scaling, training-data fraction, initialisation seed).

Network: the Compact-convnet family (5 × conv 3×3 → BN → ELU → pool) with the widths of configs/default.py.
Input chain (mirjax/frontend/preprocess.py, thesis order): log-mel (dB) → per-frequency standardisation (per clip,
over time) → per-sample standardisation → ×1 scaler; no normalisation inside the model, so that each stage is
the only one acting.

CPU budget: the thesis trains on 29-s MSD clips to convergence; here each run is 150 steps of 32 three-second
crops (≈ 2 epochs of scorebank/default, ≈ 1.5 min on 2 cores). To keep the 257-bin STFT affordable both
representations use a 512-point FFT with a 512-sample hop at 16 kHz (94 frames per crop): the STFT has the
thesis's 257 bins, the mel spectrogram its 96. More steps: `--config.train.num_steps=…` or `--steps` of the study.
Arg: `[SCOREBANK]`, a scorebank config (default `default`), e.g. `configs/choi_preprocessing.py:tiny` or
`configs/choi_preprocessing.py:scorebank=tiny`.
"""

from configs.common import parse_arg
from mirjax.config import base_config


def get_config(arg: str | None = None):
    arg = parse_arg(arg, scorebank="default")
    c = base_config()
    c.dataset.name = f"scorebank/{arg.scorebank}"
    c.dataset.crop_seconds = 3.0
    c.frontend.update(dict(name="logmel", sample_rate=16000, n_fft=512, hop_length=512, n_mels=96,
                           compression="db", top_db=80.0, weighting="per_frequency", standardize="sample",
                           scale=1.0))
    # BN momentum 0.9: with Keras's 0.99, 22 % of each running average would still be its initial value after
    # 150 steps, and test-time normalisation would not match training.
    c.model.update(dict(name="compact_convnet", channels=(16, 32, 32, 64, 64), global_pool="mean_max",
                        time_pools=(2, 2, 2, 2, 2), input_norm="none", bn_momentum=0.9))
    c.optim.update(dict(name="adam", learning_rate=1e-3, schedule="warmup_cosine", warmup_steps=20))
    c.train.batch_size = 32
    c.train.num_steps = 150
    c.train.log_every = 25
    c.train.eval_every = c.train.checkpoint_every = 75
    c.train.eval_crops = 2
    c.eval.num_crops = 4
    return c
