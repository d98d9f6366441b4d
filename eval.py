"""Evaluate one model or an ensemble: python eval.py --config configs/NAME.py --workdir DIR [--workdir DIR2 ...]
Writes DIR/report.json and PNG plots into the first workdir."""

from absl import flags

from mirjax import cli

cli.define_flags(multiple_workdirs=True)
FLAGS = flags.FLAGS


def main() -> int:
    from mirjax.evaluation.evaluate import evaluate, summary_line
    from mirjax.training import sharding
    sharding.maybe_initialize_distributed()
    out = evaluate(FLAGS.config, FLAGS.workdir)
    if "report_path" in out:
        print(summary_line(out))
        print(f"report: {out['report_path']}" + (f"; plots: {', '.join(out.get('plots', []))}"
                                                  if out.get("plots") else ""))
    return 0


if __name__ == "__main__":
    cli.run(main)
