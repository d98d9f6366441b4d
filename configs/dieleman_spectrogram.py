"""Dieleman's Ch. 5 spectrogram tagger (32×8 → pool 4 → 32×8 → pool 4 → 100 → tags) on 128-band mel
spectrograms with log(1 + 10⁴·x), window 256 / stride 256 (the best row of Table 5.1), 3-s crops.

Learning rate and momentum are not in the thesis; we use Nesterov SGD (Dieleman thesis §5.4.1 gives neither).
Arg: `[SCOREBANK]`, a scorebank config (default `default`), e.g. `configs/dieleman_spectrogram.py:tiny` or
`configs/dieleman_spectrogram.py:scorebank=tiny`.
"""

from configs.common import parse_arg
from mirjax.config import base_config


def get_config(arg: str | None = None):
    arg = parse_arg(arg, scorebank="default")
    c = base_config()
    c.dataset.name = f"scorebank/{arg.scorebank}"
    c.dataset.crop_seconds = 3.0
    c.frontend.update(dict(name="logmel", sample_rate=16000, n_fft=256, hop_length=256, n_mels=128,
                           compression="log1p", log_c=1e4))
    c.model.update(dict(name="dieleman_spectrogram"))
    c.optim.name = "sgd"
    c.optim.learning_rate = 0.01
    c.optim.momentum = 0.9
    c.optim.nesterov = True
    c.optim.schedule = "piecewise"
    c.optim.lr_schedule = {0: 0.01, 2000: 0.001}
    c.train.batch_size = 32
    c.train.num_steps = 2500
    return c
