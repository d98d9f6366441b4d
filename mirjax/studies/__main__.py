"""`python -m mirjax.studies STUDY [options]`: run a study (resumable) and write its tables and plots."""

from __future__ import annotations

import argparse
import logging
import os
import sys

STUDIES = {
    "structures": "mirjax.studies.structures",
    "preprocessing": "mirjax.studies.preprocessing",
    "raw_audio": "mirjax.studies.raw_audio",
    "kmeans": "mirjax.studies.kmeans",
    "recommendation": "mirjax.studies.recommendation",
}


def parse(argv):
    ap = argparse.ArgumentParser(prog="python -m mirjax.studies", description=__doc__)
    sub = ap.add_subparsers(dest="study", required=True)
    s = sub.add_parser("structures", help="Choi Ch. 4: k1c2 / k2c1 / k2c2 / CRNN at matched sizes")
    s.add_argument("--out", required=True, help="study directory (runs are resumed from here)")
    s.add_argument("--quick", action="store_true", help="2-core CPU sanity setting (≈ 20 min)")
    s.add_argument("--setting", default="scorebank", help="scorebank | msd | mtt | mtt_clean (see configs/choi_structures.py)")
    s.add_argument("--sizes", default="", help="comma-separated subset of 0.1M,0.25M,0.5M,1M,3M")
    p = sub.add_parser("preprocessing", help="Choi Ch. 5: input preprocessing, data size, init variance")
    p.add_argument("--out", required=True, help="study directory (runs are resumed from here)")
    p.add_argument("--parts", default="", help="comma-separated subset of grid,sample_std,data_size,variance")
    p.add_argument("--config", default="", help="base config (default configs/choi_preprocessing.py)")
    p.add_argument("--steps", type=int, default=0, help="override the base config's train.num_steps")
    r = sub.add_parser("raw_audio", help="Dieleman Ch. 5: raw audio vs spectrograms (Tables 5.1-5.3)")
    r.add_argument("--out", required=True, help="study directory (runs are resumed from here)")
    r.add_argument("--parts", default="", help="comma-separated subset of table51,table52,table53")
    r.add_argument("--dataset", default="scorebank/default",
                   help="TFDS name/config, e.g. magnatagatune/clean (built first; see docs/datasets.md)")
    r.add_argument("--data_dir", default="", help="TFDS data dir (default $MIRJAX_DATA_DIR or the mirjax cache)")
    r.add_argument("--steps", type=int, default=0, help="override the configs' 2,500 steps (LR drop scaled along)")
    r.add_argument("--quick", action="store_true", help="2-core CPU sanity setting: 500 steps per run")
    k = sub.add_parser("kmeans", help="Dieleman Ch. 3: multiscale spherical K-means features (Figs. 3.4-3.11)")
    k.add_argument("--out", required=True, help="study directory (architectures are resumed from here)")
    k.add_argument("--parts", default="", help="comma-separated subset of grid,levels,invariance,layers,style,nca")
    k.add_argument("--dataset", default="default", help="scorebank config: default | tiny")
    k.add_argument("--data_dir", default="", help="TFDS data dir (default $MIRJAX_DATA_DIR or the mirjax cache)")
    k.add_argument("--quick", action="store_true", help="2-core CPU setting: learners train 10-60 epochs")
    k.add_argument("--runs", type=int, default=1, help="learner restarts averaged per architecture (thesis: 10)")
    k.add_argument("--variants", default="", help="grid rows to run, e.g. laplacian:1,multires:1 (default: all 7)")
    c = sub.add_parser("recommendation", help="Dieleman Ch. 4: latent factors from audio (Tables 4.2-4.4, Fig. 4.1)")
    c.add_argument("--out", required=True, help="study directory (targets, codebook and runs are resumed from here)")
    c.add_argument("--scorebank", default="default", help="scorebank config: default | tiny (with its listening data)")
    c.add_argument("--data_dir", default="", help="TFDS data dir (default $MIRJAX_DATA_DIR or the mirjax cache)")
    c.add_argument("--quick", action="store_true", help="2-core CPU setting: 600 steps per model, 500 words")
    c.add_argument("--steps", type=int, default=0, help="training steps of every model (default: the configs')")
    c.add_argument("--words", type=int, default=0, help="bag-of-words dictionary size (default 4,000)")
    c.add_argument("--seeds", type=int, default=1, help="training runs per model (tables show mean ± sd)")
    c.add_argument("--models", default="", help="comma-separated subset of bow_linear,bow_mlp,cnn_mse,cnn_wpe")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("mirjax").setLevel(logging.INFO)
    import importlib
    try:
        import tensorflow as tf
        tf.config.set_visible_devices([], "GPU")
        importlib.import_module(STUDIES[args.study]).main(args)
    except KeyboardInterrupt:
        print(f"interrupted; rerun the same command to resume from {args.out}", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
