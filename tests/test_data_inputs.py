"""Evaluation crops of the audio input kind against the closed form `round(linspace(0, max offset, k))`: on a clip
whose samples are their own indices, each crop's first sample is its offset and the crop is a contiguous run."""

from __future__ import annotations

import ml_collections
import numpy as np
import pytest


@pytest.mark.parametrize("clip, crop, k", [(12, 2, 4), (12, 2, 7), (1000, 3, 6), (101, 1, 8)])
def test_audio_eval_crops_start_at_rounded_evenly_spaced_offsets(clip, crop, k):
    import tensorflow as tf

    from mirjax.data import inputs
    cfg = ml_collections.ConfigDict({"sample_rate": 1, "crop_seconds": float(crop), "pad_mode": "zero"})
    ramp = tf.range(clip, dtype=tf.float32)  # sample i holds i (exact in float32 at these lengths)
    views = inputs.INPUT_KINDS["audio"].eval_views(ramp, cfg, k).numpy()
    offsets = np.round(np.linspace(0.0, clip - crop, k))  # max offset 10, 4 crops: 0, 3.33, 6.67, 10 → 0, 3, 7, 10
    assert views.shape == (k, crop)
    np.testing.assert_array_equal(views[:, 0], offsets)
    np.testing.assert_array_equal(views, offsets[:, None] + np.arange(crop)[None, :])
