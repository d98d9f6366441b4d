"""Datasets (TFDS builders, registered on import) and tf.data pipelines.

Importing `mirjax.data` registers every builder of the package with TFDS, so `tfds.builder("scorebank/tiny")`
and `config.dataset.name = "scorebank/default"` work.
"""

from __future__ import annotations

import os


def default_data_dir() -> str:
    """Where built datasets are cached: $MIRJAX_DATA_DIR, else ~/.cache/mirjax/tensorflow_datasets (never
    inside the repository)."""
    return os.environ.get("MIRJAX_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "mirjax", "tensorflow_datasets")


# Builders register themselves with TFDS when imported (after default_data_dir, which they may use): the real
# corpora and scorebank; the transfer-learning target tasks of Choi Ch. 6 (ballroom, emomusic, game_soundtracks,
# gtzan_speech_music, jamendo, urbansound8k: one `train` split each, see mirjax/data/targets.py); the ISMIR 2004
# genre collection of Zhang et al. (ismir2004); the galaxy
# corpora of Dieleman's thesis App. A (galaxies, galaxy_zoo).
from mirjax.data import (  # noqa: E402,F401
    ballroom,
    emomusic,
    galaxies,
    galaxy_zoo,
    game_soundtracks,
    gtzan,
    gtzan_speech_music,
    ismir2004,
    jamendo,
    listening,
    magnatagatune,
    msd,
    msd_echonest,
    scorebank,
    taste_profile,
    urbansound8k,
)
