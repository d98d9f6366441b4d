"""Train (or resume) an experiment: python train.py --config configs/NAME.py[:ARG] --workdir DIR
[--config.KEY=VALUE ...]"""

from absl import flags

from mirjax import cli

cli.define_flags()
FLAGS = flags.FLAGS


def main() -> int:
    from mirjax.training import sharding, trainer
    sharding.maybe_initialize_distributed()
    result = trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir)
    figs = ", ".join(f"{k} {v:.4f}" for k, v in result.items() if k != "step")
    print(f"trained to step {result['step']} in {FLAGS.workdir}" + (f"; validation {figs}" if figs else ""))
    return 0


if __name__ == "__main__":
    cli.run(main)
