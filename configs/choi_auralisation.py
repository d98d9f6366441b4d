"""Choi's auralisation network (Choi thesis §7.2.4): a ReLU convnet on linear STFT magnitudes, classifying genre
(here scorebank's `style`), to be deconvolved and listened to with `mirjax analyze auralise`.

The thesis's network: 5 × (conv 3×3, 64 feature maps → ReLU → max-pool 2×2), then two fully connected layers, on
|STFT| with a 512-point FFT and a 50 % hop (256), no batch normalisation. It is the Compact-convnet configured that
way (`activation="relu"`, `batch_norm=False`, `channels=64`, pools (2,2) in both axes, `hidden_units=64`); the
map left after the fifth pool is max-pooled to one vector before the dense layers. The input is |STFT| (the `stft`
front-end with `power=1`, `compression="none"`), as the thesis's code feeds the deconvolution, ×0.1 so that the
first logits are not huge (a ReLU net without biases is positively homogeneous: the scale changes no mask).

One difference, stated: the thesis's input was at 11,025 Hz; scorebank is rendered at 16 kHz and the pipeline does
not resample, so the FFT keeps the thesis's 512 points and hop 256 at 16 kHz (32-ms windows, 31.25-Hz bins instead
of 46 ms and 21.5 Hz). `mirjax.analysis.auralisation.receptive_fields` gives Table 7-A at either rate.
Crops are the thesis's 4 s (251 frames × 257 bins at 16 kHz).

Arg: `[SCOREBANK]`, the scorebank config (default `default`; `tiny` is a few-step smoke test), e.g.
`configs/choi_auralisation.py:tiny` or `…:scorebank=tiny`. Training on two shared CPU cores is slow at this input
size (full-resolution 64-channel maps): the default's 200 steps are a short run, not the thesis's training.
"""

from configs.common import parse_arg
from mirjax.config import base_config


def get_config(arg: str | None = None):
    arg = parse_arg(arg, scorebank="default")
    c = base_config()
    c.dataset.name = f"scorebank/{arg.scorebank}"
    c.dataset.label_key = "style"
    c.dataset.task = "multiclass"
    c.dataset.crop_seconds = 4.0  # the thesis's 4-s clips
    c.frontend.update(dict(name="stft", sample_rate=16000, n_fft=512, hop_length=256, power=1.0,
                           compression="none", scale=0.1))
    c.model.update(dict(name="compact_convnet", channels=64, num_blocks=5, kernel_size=3, activation="relu",
                        batch_norm=False, freq_pools=(2, 2, 2, 2, 2), time_pools=(2, 2, 2, 2, 2),
                        global_pool="max", hidden_units=64, input_norm="none"))
    c.optim.update(dict(name="adam", learning_rate=3e-4, schedule="constant", grad_clip_norm=1.0))
    c.train.batch_size = 16
    c.train.num_steps = 200
    c.train.log_every = 25
    c.train.eval_every = c.train.checkpoint_every = 100
    c.train.eval_crops = 1
    c.eval.num_crops = 2
    if arg.scorebank == "tiny":  # a smoke test: 27 training clips
        c.train.update(dict(batch_size=4, num_steps=4, log_every=2, eval_every=4, checkpoint_every=4))
        c.eval.num_crops = 1
    return c
