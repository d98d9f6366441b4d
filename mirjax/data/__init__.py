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


# Builders register themselves with TFDS when imported (after default_data_dir, which they may use).
from mirjax.data import gtzan, listening, magnatagatune, msd, scorebank, taste_profile  # noqa: E402,F401
