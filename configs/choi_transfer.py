"""The source network of Choi's transfer-learning study (Choi thesis, Ch. 6, §6.2.1, §6.3.1): a Compact-convnet
tagging scorebank, whose per-block activations `mirjax study transfer` turns into the "convnet feature".

Network as the thesis's source: 5 × conv 3×3 with 32 channels → BN → ELU → max-pool, pools (2,3,2,2,4) in
frequency and (4,4,5,4,4) in time (29 s → 1×1 after the fifth block), trained with Adam on BCE over the tags.
Input as the thesis's: 96-bin log-mel in dB from 0 to 6 kHz with a 42.7-ms window and a 21.3-ms hop, normalised
per frequency bin inside the model.

What is scaled to the machine, and why:
- rate: scorebank is 16 kHz and the input pipeline does not resample, so the thesis's 12-kHz STFT (512 points,
  hop 256) becomes the same window and hop in seconds at 16 kHz (682 points, hop 341); with fmax 6 kHz (the 12-kHz
  Nyquist) the 96 mel bands are the thesis's;
- training input: 4-s crops of scorebank's 10-s clips (the thesis's 29-s clips are repeat-padded scorebank clips
  here, which would only train on repeats); the network is fully convolutional, so the study extracts its features
  from 29-s inputs as the thesis did (pools larger than a short crop's map are clipped, `mirjax.models.layers`);
- budget: 500 steps of batch 32 (≈ 7 epochs of scorebank/default), about 10 minutes on 2 busy CPU cores, against
  the thesis's training to convergence on 244,224 MSD clips. BN momentum 0.9 instead of Keras's 0.99: after 500
  steps 0.99 would still hold 0.7 % of the initial running averages, and 0.9 follows a short run's changing
  activations more closely.

Arg: `[SCOREBANK]`, a scorebank config (default `default`); `configs/choi_transfer.py:tiny` is a 20-step smoke
test on scorebank/tiny with 2-s crops.
"""

from configs.common import parse_arg
from mirjax.config import base_config

# Choi thesis Ch. 6 source input at 12 kHz (512-point FFT, hop 256, 96 mels to 6 kHz) in seconds, at 16 kHz.
FRONTEND = dict(name="logmel", sample_rate=16000, n_fft=682, hop_length=341, n_mels=96, fmax=6000.0,
                compression="db", top_db=80.0)


def get_config(arg: str | None = None):
    arg = parse_arg(arg, scorebank="default")
    c = base_config()
    c.dataset.name = f"scorebank/{arg.scorebank}"
    c.dataset.crop_seconds = 4.0
    c.frontend.update(FRONTEND)
    c.model.update(dict(name="compact_convnet", channels=32, time_pools=(4, 4, 5, 4, 4), global_pool="max",
                        input_norm="frequency", bn_momentum=0.9))
    c.optim.update(dict(name="adam", learning_rate=1e-3, schedule="warmup_cosine", warmup_steps=50))
    c.train.batch_size = 32
    c.train.num_steps = 500
    c.train.log_every = 50
    c.train.eval_every = c.train.checkpoint_every = 250
    c.train.eval_crops = 2
    c.eval.num_crops = 4
    if arg.scorebank == "tiny":
        c.dataset.crop_seconds = 2.0
        c.train.update(dict(batch_size=8, num_steps=20, log_every=5, eval_every=10, checkpoint_every=10))
        c.optim.warmup_steps = 5
        c.eval.plots = False
    return c
