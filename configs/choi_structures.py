"""Choi's structure comparison (thesis Ch. 4): k1c2, k2c1, k2c2 or CRNN at a Table 4-A size, on a dataset setting.

Arg: `[STRUCTURE[,SIZE[,SETTING]]]` (default `k2c2,1M,scorebank`; by name too: `…:crnn,setting=msd`),
e.g. `configs/choi_structures.py:crnn,1M` or `…:k2c2,0.1M,quick`.

  STRUCTURE  k1c2 | k2c1 | k2c2 | crnn            (mirjax/models/choi_structures.py)
  SIZE       0.1M | 0.25M | 0.5M | 1M | 3M        (Table 4-A widths)
  SETTING    scorebank (default): scorebank/default, whole 10-s clips at 16 kHz, n_fft 512, hop 256,
                                  96 mels (626 frames; the thesis's pools, clipped at one cell)
             quick:               scorebank/default, 3-s crops at hop 512 (n_fft 1024; 94 frames), time pools
                                  spread over 94 frames, BN momentum 0.9, 100 steps: the 2-core CPU sanity setting of
                                  `mirjax study structures --quick`
             msd:                 msd_lastfm50 (12 kHz), the thesis's input: n_fft 512, hop 256, 96 mels,
                                  fmax 6 kHz, dB, 29.12 s → 1366 frames; early stopping after one epoch
                                  without validation improvement
             mtt / mtt_clean:     magnatagatune/original_12k or /clean_12k with the same input as msd

The thesis gives no batch size or learning rate; we use Adam 1e-3 (Keras's default) with batch 32
(Choi thesis Ch. 4). Early stopping follows Choi thesis §4.3: validate once per epoch, stop at the first epoch without
improvement (`train.early_stopping_patience=1`).
"""

from configs.common import choice, parse_arg
from mirjax.config import base_config
from mirjax.models.choi_structures import SIZES, STRUCTURES

# The thesis's input (Ch. 4): 12 kHz, 512-point FFT, hop 256, 96 mels up to 6 kHz, dB; 29.12 s = 1366 frames.
THESIS_FRONTEND = dict(name="logmel", sample_rate=12000, n_fft=512, hop_length=256, n_mels=96, fmax=6000.0,
                       compression="db", top_db=80.0)

# Time pools per structure for 3-s crops at hop 512 (94 frames): the thesis's reduction (to one frame, or to
# 12 GRU steps for the CRNN: 94 → 96 = 12 × 8), spread so that every block but the CRNN's last still pools.
QUICK_TIME_POOLS = {"k1c2": (2, 3, 4, 4), "k2c1": (2, 2, 2, 3, 4), "k2c2": (2, 2, 2, 3, 4), "crnn": (2, 2, 2, 1)}

# Real-data settings: dataset name, examples in the training split (for one-epoch evaluation intervals).
REAL = {"msd": ("msd_lastfm50/default", 201_680), "mtt": ("magnatagatune/original_12k", 18_706),
        "mtt_clean": ("magnatagatune/clean_12k", 15_247)}


def get_config(arg: str | None = None):
    arg = parse_arg(arg, structure="k2c2", size="1M", setting="scorebank")
    structure = choice("structure", arg.structure, STRUCTURES)
    size = choice("size", arg.size, SIZES)
    setting = choice("setting", arg.setting, ("scorebank", "quick", *REAL))
    c = base_config()
    c.model.update(dict(name=structure, size=size, input_norm="frequency"))
    c.optim.update(dict(name="adam", learning_rate=1e-3, schedule="constant"))
    c.train.batch_size = 32
    c.train.early_stopping_patience = 1
    c.train.log_every = 25
    c.eval.num_crops = 1 if setting in REAL else 4

    if setting in REAL:
        c.dataset.name, train_size = REAL[setting]
        c.dataset.sample_rate = 12000
        c.dataset.crop_seconds = 29.12
        c.dataset.pad_mode = "zero"  # Choi zero-pads short previews
        c.dataset.cache = False
        c.frontend.update(THESIS_FRONTEND)
        epoch = train_size // c.train.batch_size
        c.train.num_steps = 100 * epoch  # an upper bound: early stopping ends training
        c.train.eval_every = c.train.checkpoint_every = epoch
        c.train.eval_crops = 1
        return c

    c.dataset.name = "scorebank/default"
    c.frontend.update(dict(THESIS_FRONTEND, sample_rate=16000, fmax=None))
    epoch = 2_312 // c.train.batch_size  # scorebank/default's training split
    if setting == "quick":
        c.dataset.crop_seconds = 3.0
        c.frontend.update(dict(n_fft=1024, hop_length=512))
        c.model.time_pools = QUICK_TIME_POOLS[structure]
        # 100 steps are too few for Keras's BN momentum 0.99: 37 % of every running average would still be its
        # initial value at the last validation (input dB levels included), so test-time inputs would be
        # normalised with the wrong statistics. 0.9 (PyTorch's default) forgets the start within ~50 steps.
        c.model.bn_momentum = 0.9
        c.train.num_steps = 100
        c.train.eval_every = c.train.checkpoint_every = 50
        c.train.early_stopping_patience = 0  # two evaluations only: keep the best, do not stop
        c.train.eval_crops = 2
    else:
        c.dataset.crop_seconds = 10.0
        c.train.num_steps = 40 * epoch
        c.train.eval_every = c.train.checkpoint_every = epoch
        c.train.eval_crops = 1
    return c
