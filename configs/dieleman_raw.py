"""Dieleman's Ch. 5 end-to-end tagger on raw audio: a learned strided 1-D convolution (Table 5.1 lengths and
strides), its nonlinearity (Table 5.2) and optional feature pooling (Table 5.3), then the spectrogram model's
32×8 → pool 4 → 32×8 → pool 4 → 100 → tags stack; 3-s crops of unprocessed audio.

Arg: `[LENGTH[,STRIDE[,SCOREBANK]]]` (default `1024,1024,default`; STRIDE defaults to LENGTH; keys by name too:
`…:512,scorebank=tiny`), e.g. `configs/dieleman_raw.py:512,256` or `…:1024,1024,tiny`; Table 5.1's pairs are
`mirjax.studies.raw_audio.LENGTHS_STRIDES`. Nonlinearity and pooling are model keys:
`--config.model.nonlinearity=log_square`, `--config.model.feature_pool=l2 --config.model.feature_pool_size=4`.
Everything else (data, optimiser, steps) is configs/dieleman_spectrogram.py's, so the raw-vs-spectrogram
comparison differs only in the input.
"""

import ml_collections

from configs import dieleman_spectrogram
from configs.common import error, parse_arg


def get_config(arg: str | None = None):
    arg = parse_arg(arg, length=1024, stride=0, scorebank="default")
    length, stride = arg.length, arg.stride or arg.length
    if length <= 0 or stride <= 0:
        raise error(f"LENGTH and STRIDE must be positive, got {length},{stride}")
    c = dieleman_spectrogram.get_config(arg.scorebank)
    c.frontend = ml_collections.ConfigDict(dict(name="waveform", sample_rate=16000))
    c.model = ml_collections.ConfigDict(dict(name="dieleman_raw", filter_length=length, stride=stride,
                                             strided_filters=128, nonlinearity="relu", feature_pool="none",
                                             feature_pool_size=1))
    return c
