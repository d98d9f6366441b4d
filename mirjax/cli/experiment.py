"""`mirjax train`, `mirjax eval`, `mirjax features` and `mirjax words`: one config file (plus overrides) and a run's
workdir (or, for `words`, the vocabulary file it writes)."""

from __future__ import annotations

import argparse

from mirjax.cli.base import Command, UsageError, add_config, add_launch, add_workdir, load_config, require_dir


def _train_args(p: argparse.ArgumentParser) -> None:
    add_config(p)
    add_workdir(p, "the run's directory: checkpoints, metrics, config.json (rerun the same command to resume)")
    add_launch(p)


def _train(args: argparse.Namespace) -> int:
    config = load_config(args)
    from mirjax.training import sharding, trainer
    sharding.maybe_initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    from mirjax import tasks
    result = trainer.train_and_evaluate(config, args.workdir)
    figs = ", ".join(f"{k} {result[k]:.4f}" for k in tasks.get(config.dataset.task).summary_keys if k in result)
    print(f"trained to step {result['step']} in {args.workdir}" + (f"; validation {figs}" if figs else ""))
    return 0


def _eval_args(p: argparse.ArgumentParser) -> None:
    add_config(p)
    add_workdir(p, "trained run to evaluate; repeat for an ensemble (report and plots go to the first)",
                multiple=True)
    add_launch(p)


def _eval(args: argparse.Namespace) -> int:
    config = load_config(args)
    for w in args.workdir:
        require_dir(w)
    from mirjax.training import evaluate, sharding
    sharding.maybe_initialize_distributed(args.coordinator, args.num_processes, args.process_id)
    out = evaluate.evaluate(config, args.workdir)
    if "report_path" in out:
        print(evaluate.summary_line(out))
        print(f"report: {out['report_path']}" + (f"; plots: {', '.join(out.get('plots', []))}"
                                                  if out.get("plots") else ""))
    return 0


def _features_args(p: argparse.ArgumentParser) -> None:
    add_config(p, help="feature-learning config, e.g. configs/dieleman_kmeans.py:REPR,WINDOW,MEANS[,TASK]; "
                       "override values with --config.KEY=VALUE")
    add_workdir(p, "the run's directory: config.json, dictionaries.npz, features.npz (reused), report.json")


def _features(args: argparse.Namespace) -> int:
    from mirjax.features import config as fconfig
    config = load_config(args, reference=fconfig.feature_config)
    from mirjax.features import run
    print(run.summary_line(run.run(config, args.workdir)))
    return 0


TRAIN = Command("train", "train (or resume) an experiment", _train_args, _train, overrides=True,
                description="Train an experiment, or resume it: rerun the same command with the same --workdir.")
EVAL = Command("eval", "evaluate a trained model or an ensemble", _eval_args, _eval, overrides=True,
               description="Evaluate one model or an ensemble (several --workdir): writes report.json and PNG "
                           "plots into the first workdir.")
FEATURES = Command("features", "multiscale spherical K-means features + learner (Dieleman Ch. 3)",
                   _features_args, _features, overrides=True,
                   description="Learn multiscale K-means features and train a learner on them; writes "
                               "WORKDIR/report.json and prints one line.")


def _words_args(p: argparse.ArgumentParser) -> None:
    add_config(p, help="a train config with the audio_words front-end, e.g. configs/zhang_kcnn_train.py; its "
                       "dataset's training split is read")
    p.add_argument("--out", default="", help="vocabulary file to write (default: the config's frontend.vocabulary)")
    p.add_argument("--types", default="mel,sfm,scf", help="frame features, one codebook each: mel, sfm, scf")
    p.add_argument("--num_words", type=int, default=256, help="words per codebook (K-means means)")
    p.add_argument("--frames_per_segment", type=int, default=4, help="frames per segment (one word)")
    p.add_argument("--joint", action="store_true", help="one codebook over the concatenated types")
    p.add_argument("--max_clips", type=int, default=0, help="read at most this many training clips (0 = all)")
    p.add_argument("--seed", type=int, default=0)


def _words(args: argparse.Namespace) -> int:
    config = load_config(args)
    out = args.out or config.frontend.get("vocabulary", "")
    if not out:
        raise UsageError("give --out PATH, or frontend.vocabulary in the config")
    from mirjax.features import words
    r = words.fit(config, out, [t.strip() for t in args.types.split(",") if t.strip()], args.num_words,
                  args.frames_per_segment, args.joint, args.max_clips, args.seed)
    print(f"audio-word vocabulary {r['path']}: {'+'.join(r['types'])} × {r['num_words']} words "
          f"(dims {r['dims']}) from {r['segments']:,} segments of {r['clips']} clips at {r['sample_rate']} Hz"
          + (f"; {r['skipped']} clips skipped" if r["skipped"] else "") + f" ({r['seconds']:.0f} s)")
    return 0


WORDS = Command("words", "fit the audio-word vocabulary of the audio_words front-end and kcnn (Zhang et al.)",
                _words_args, _words, overrides=True,
                description="Fit one PCA-whitening + K-means codebook per frame-feature type on the config's "
                            "training split and write the vocabulary file that frontend.vocabulary and "
                            "model.vocabulary read.")
