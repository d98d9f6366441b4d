"""`galaxies`: mirjax's built-in offline galaxy corpus, rendered with GalSim (for the galaxy convnet of the
Dieleman thesis, App. A).

424×424 colour JPEGs like the Kaggle Galaxy Challenge images, each with the 37 cumulative Galaxy Zoo 2 answers
(`answers`, names `Class1.1` … `Class11.6` in `info.metadata["tag_names"]`), the generator's class
(`elliptical | disk | irregular | merger | star`) and an integer `id`. How images and answers are made, and what
the generator cannot imitate: `mirjax.data.galaxies_render`. Deterministic per `seed` (each image from its own
seed), whatever the number of worker processes.

Build (cached outside the repository, in `default_data_dir()`):

    mirjax data build galaxies/tiny|galaxies/default

Configs: `tiny` (48 / 16 / 16 images, rendered at 106 px, a few seconds), `default` (20,000 / 2,000 / 2,000
images, rendered at 212 px and upsampled, one process per core).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import sys
import time

import numpy as np
import tensorflow_datasets as tfds

from mirjax import galaxy_tree
from mirjax.data import galaxies_render as render
from mirjax.data.cached import CachedBuilder

SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(eq=False)
class GalaxiesConfig(tfds.core.BuilderConfig):
    """sizes: images per split (train, validation, test); render_size: GalSim's canvas before upsampling to
    424; num_workers: render processes (0: one per available core)."""
    sizes: tuple = (96, 24, 24)
    render_size: int = 106
    seed: int = 0
    num_workers: int = 0
    jpeg_quality: int = 90


TINY = GalaxiesConfig(name="tiny", description="48/16/16 images, rendered at 106 px, one process (tests)",
                      sizes=(48, 16, 16), render_size=106, num_workers=1)
DEFAULT = GalaxiesConfig(name="default", description="20,000/2,000/2,000 images, rendered at 212 px",
                         sizes=(20_000, 2_000, 2_000), render_size=212)


def _work(args):
    seed, index, render_size, quality = args
    return index, render.make_example(seed, index, render_size, quality)


def _workers(cfg: GalaxiesConfig) -> int:
    if cfg.num_workers:
        return cfg.num_workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Galaxies(CachedBuilder, skip_registration=__name__ != "mirjax.data.galaxies"):
    """GalSim-rendered galaxies with simulated Galaxy Zoo 2 answers (see module docstring)."""

    BUILDER_CONFIGS = [DEFAULT, TINY]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self, description=__doc__,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(render.IMAGE_SIZE, render.IMAGE_SIZE, 3),
                                             encoding_format="jpeg"),
                "answers": tfds.features.Tensor(shape=(galaxy_tree.NUM_ANSWERS,), dtype=np.float32,
                                                doc="cumulative Galaxy Zoo 2 answers, metadata['tag_names']"),
                "class": tfds.features.ClassLabel(names=list(render.CLASSES)),
                "id": tfds.features.Scalar(dtype=np.int64),
            }),
            supervised_keys=("image", "answers"),
            metadata=tfds.core.MetadataDict(tag_names=list(galaxy_tree.ANSWER_NAMES), seed=int(cfg.seed),
                                            render_size=int(cfg.render_size)),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        cfg = self.builder_config
        starts = np.cumsum((0,) + tuple(cfg.sizes))
        return {s: self._generate_examples(int(starts[i]), int(starts[i + 1])) for i, s in enumerate(SPLITS)}

    def _generate_examples(self, start: int, stop: int):
        cfg = self.builder_config
        jobs = [(cfg.seed, i, cfg.render_size, cfg.jpeg_quality) for i in range(start, stop)]
        n_workers = min(_workers(cfg), len(jobs))
        t0 = time.time()
        if n_workers <= 1:
            results = map(_work, jobs)
            pool = None
        else:
            # spawn: TensorFlow is loaded in this process, and forking it is unsafe
            pool = multiprocessing.get_context("spawn").Pool(n_workers)
            results = pool.imap(_work, jobs, chunksize=8)
        try:
            for index, ex in results:
                yield index, {"image": ex["jpeg"], "answers": ex["answers"], "class": ex["class"], "id": index}
        finally:
            if pool is not None:
                pool.close()
                pool.join()
        msg = f"galaxies/{cfg.name}: rendered {stop - start} images in {time.time() - t0:.1f} s ({n_workers} proc.)"
        logging.info(msg)
        print(msg, file=sys.stderr)
