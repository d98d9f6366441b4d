"""Dieleman Ch. 4 (van den Oord, Dieleman & Schrauwen 2013): predicting WMF latent factors from audio.

Arg: `[MODEL[,SCOREBANK]]` (default `cnn_mse,default`; by name too: `…:bow_mlp,scorebank=tiny`) with MODEL one of

* `cnn_mse`, `cnn_wpe`: the §4.5.2 CNN on 3-s log-mel windows (128 bands, window 1024, hop 512, log(1 + 10⁴x)):
  conv 128×6 → max-pool 4 → conv 128×6 → max-pool 5 → dense 400 → 50 linear outputs, trained with the MSE
  (Eq. 4.4) or the WPE (Eq. 4.5) objective; a clip's prediction is the mean over consecutive 3-s windows
  (`eval.num_crops` = the number of windows that tile a 10-s clip, 4 with overlap);
* `bow_linear`, `bow_mlp`: the §4.5.1 bag-of-words baseline, 13 MFCC + Δ + ΔΔ (window 1024, hop 512), vector
  quantised with K-means (4,000 words), per-clip word counts, PCA to 95 % of the variance, then linear
  regression or an MLP with 1,000 ReLUs, on whole clips.

SCOREBANK: tiny | default (the scorebank build; default `default`). The targets file is
`mirjax recommend targets scorebank_listening/SCOREBANK`'s default output and the
codebook `mirjax recommend codebook --dataset scorebank/SCOREBANK`'s; `--config.dataset.targets=…`
and `--config.frontend.codebook=…` point elsewhere.

Not in the thesis (Dieleman thesis §4.5 leaves them open): optimiser, learning rate, batch size, number of updates,
initialisation, input normalisation, model selection. We use Adam 10⁻³ → cosine decay, batch 32, keep the
checkpoint with the best recommendation AUC on the validation clips (validation users' plays of clips the
regressor never trained on; R² of the factors would favour MSE over WPE by construction), and standardise each mel
band (`model.input_norm=frequency`, a parameter-free batch norm): without it the unnormalised log(1 + 10⁴x) input gave
initial outputs ~25× the targets' scale and the CNN stalled near the mean (validation R² 0.016, recommendation AUC
0.592 after 3,000 steps, against 0.065 / 0.667 with it; docs/results.md). 16 kHz (scorebank's rate) instead of 22,050
Hz: the same window and hop in samples, so 3 s are 94 frames here (thesis ≈ 130): 94 → conv 6 → 89 → pool 4 → 22 →
conv 6 → 17 → pool 5 → 3 × 128 = 384 inputs to the dense layer.
"""

from configs.common import choice, parse_arg
from mirjax.config import base_config
from mirjax.studies.recommendation import MODELS


def get_config(arg: str | None = None):
    arg = parse_arg(arg, model="cnn_mse", scorebank="default")
    model, scorebank = choice("model", arg.model, MODELS), arg.scorebank
    from mirjax.recommendation.targets import default_path

    c = base_config()
    c.dataset.name = f"scorebank/{scorebank}"
    c.dataset.task = "factors"
    c.dataset.targets = default_path(f"scorebank_listening/{scorebank}")
    c.optim.name = "adam"
    c.optim.learning_rate = 1e-3
    c.optim.schedule = "warmup_cosine"
    c.optim.warmup_steps = 100
    c.train.batch_size = 32
    c.train.best_metric = "rec_auc"  # the task: recommendation AUC of the validation clips (see the docstring)
    c.train.log_every = 50
    if model.startswith("cnn"):
        c.dataset.crop_seconds = 3.0
        c.frontend.update(dict(name="logmel", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=128,
                               compression="log1p", log_c=1e4))
        c.model.update(dict(name="dieleman_spectrogram", filters=128, filter_length=6, pool_size=(4, 5),
                            hidden=400, input_norm="frequency", dropout=0.0))  # thesis: dropout "did not
                            # yield significant improvements"
        c.train.loss = model.split("_")[1]
        c.train.num_steps = 3000
        c.train.eval_every = 500
        c.train.checkpoint_every = 500
        c.train.eval_crops = 4
        c.eval.num_crops = 4  # consecutive (overlapping) 3-s windows over a 10-s clip, averaged
    else:
        from mirjax.recommendation.bow import default_path as codebook_path

        c.dataset.crop_seconds = 10.0  # whole clips: the bag of words counts over the clip
        c.frontend.update(dict(name="mfcc_bow", codebook=codebook_path(f"scorebank/{scorebank}"),
                               sample_rate=16000, n_fft=1024, hop_length=512, n_mfcc=13))
        c.model.update(dict(name="mlp", hidden=(1000,) if model == "bow_mlp" else ()))
        c.train.loss = "mse"
        c.train.num_steps = 2000
        c.train.eval_every = 500
        c.train.checkpoint_every = 500
        c.train.eval_crops = 1
        c.eval.num_crops = 1
    return c
