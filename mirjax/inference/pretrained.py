"""Pretrained networks for `mirjax tag --pretrained NAME`: Pons et al.'s musicnn and VGG taggers trained on
MagnaTagATune and the Million Song Dataset, ported to Flax (`mirjax.models.musicnn`), with the weights read from
the installed `musicnn` package (`pip install --no-deps musicnn==0.1.0`; never copied into this repository).

Each window is one of musicnn's 3-s patches (187 frames of its log-mel front-end, 47,616 samples at 16 kHz). musicnn
itself cuts the patches out of one spectrogram of the whole file; here every window has its own spectrogram, so a
patch's first and last frame (centred, reflect-padded) see the window's edge instead of the neighbouring audio.
"""

from __future__ import annotations

from mirjax.frontend import make_frontend
from mirjax.frontend.musicnn import HOP_LENGTH, PATCH_FRAMES, SAMPLE_RATE
from mirjax.inference.model import LoadedModel, register_pretrained
from mirjax.models import musicnn_weights

# `--pretrained` name -> musicnn's checkpoint name
NAMES = {"musicnn-mtt": "MTT_musicnn", "musicnn-msd": "MSD_musicnn", "vgg-mtt": "MTT_vgg", "vgg-msd": "MSD_vgg"}
WINDOW_SAMPLES = (PATCH_FRAMES - 1) * HOP_LENGTH  # centred frames: samples // hop + 1 = 187


def load(name: str) -> LoadedModel:
    checkpoint = NAMES[name]
    model, variables, tags = musicnn_weights.load_variables(checkpoint)
    card = {"format": 1, "task": "multilabel", "activation": "sigmoid", "outputs": list(tags),
            "input": {"kind": "audio", "key": "audio", "shape": [WINDOW_SAMPLES], "sample_rate": SAMPLE_RATE,
                      "seconds": WINDOW_SAMPLES / SAMPLE_RATE},
            "frontend": {"name": "musicnn_logmel"}, "model": {"name": type(model).__name__, "checkpoint": checkpoint},
            "dataset": {"name": "MagnaTagATune" if checkpoint.startswith("MTT") else "Million Song Dataset"},
            "source": f"musicnn 0.1.0 ({checkpoint}), Pons et al."}
    return LoadedModel(card, make_frontend("musicnn_logmel"), model, variables, f"pretrained {name} ({checkpoint})")


for _name in NAMES:
    register_pretrained(_name, lambda name=_name: load(name))
