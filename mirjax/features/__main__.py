"""Learn multiscale K-means features and train a learner on them (Dieleman thesis Ch. 3):

    python -m mirjax.features --config configs/dieleman_kmeans.py:REPR,WINDOW,MEANS[,TASK] --workdir DIR \
        [--config.KEY=VALUE …]

Writes DIR/report.json (test metric, per-tag AUC) and prints one line. The grid of 28 architectures, the
per-level analysis, frequency invariance and hierarchies: `python -m mirjax.studies kmeans --out DIR`.
"""

from absl import flags

from mirjax import cli

cli.define_flags()
FLAGS = flags.FLAGS


def main() -> int:
    from mirjax.features import run
    result = run.run(FLAGS.config, FLAGS.workdir)
    print(run.summary_line(result))
    return 0


if __name__ == "__main__":
    cli.run(main)
