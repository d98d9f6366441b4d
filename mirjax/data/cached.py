"""The base of every mirjax builder: its default data dir is mirjax's cache (`default_data_dir()`, outside the
repository) rather than TFDS's ~/tensorflow_datasets, and it starts at version 1.0.0."""

from __future__ import annotations

import tensorflow_datasets as tfds

from mirjax.data import default_data_dir


class CachedBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A TFDS builder cached in `default_data_dir()` unless given `data_dir`."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def __init__(self, *, data_dir=None, **kwargs):
        super().__init__(data_dir=data_dir or default_data_dir(), **kwargs)
