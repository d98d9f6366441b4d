"""`mirjax study STUDY --out DIR [options]`: run a study (resumable: rerun the same command after a stop) and
write its tables and plots into DIR. Each study module's `main(args)` takes the argparse Namespace built here."""

from __future__ import annotations

import argparse
import importlib

from mirjax.cli.base import Command, UsageError, add_config, add_data_dir, add_out

_OUT_HELP = "study directory (finished runs are reused and an interrupted one resumes from here)"


def _structures(p: argparse.ArgumentParser) -> None:
    add_out(p, _OUT_HELP, required=True)
    p.add_argument("--quick", action="store_true", help="2-core CPU sanity setting (≈ 20 min)")
    p.add_argument("--setting", default="scorebank",
                   help="scorebank | msd | mtt | mtt_clean (see configs/choi_structures.py)")
    p.add_argument("--sizes", default="", help="comma-separated subset of 0.1M,0.25M,0.5M,1M,3M")


def _preprocessing(p: argparse.ArgumentParser) -> None:
    add_out(p, _OUT_HELP, required=True)
    p.add_argument("--parts", default="", help="comma-separated subset of grid,sample_std,data_size,variance")
    add_config(p, required=False, help="base config file (default configs/choi_preprocessing.py)")
    p.add_argument("--steps", type=int, default=0, help="override the base config's train.num_steps")


def _raw_audio(p: argparse.ArgumentParser) -> None:
    add_out(p, _OUT_HELP, required=True)
    p.add_argument("--parts", default="", help="comma-separated subset of table51,table52,table53")
    p.add_argument("--dataset", default="scorebank/default", metavar="NAME[/CONFIG]",
                   help="e.g. magnatagatune/clean (built first; see docs/datasets.md)")
    add_data_dir(p)
    p.add_argument("--steps", type=int, default=0, help="override the configs' 2,500 steps (LR drop scaled along)")
    p.add_argument("--quick", action="store_true", help="2-core CPU sanity setting: 500 steps per run")


def _kmeans(p: argparse.ArgumentParser) -> None:
    add_out(p, _OUT_HELP, required=True)
    p.add_argument("--parts", default="", help="comma-separated subset of grid,levels,invariance,layers,style,nca")
    p.add_argument("--dataset", default="scorebank/default", metavar="scorebank/CONFIG",
                   help="scorebank/default or scorebank/tiny")
    add_data_dir(p)
    p.add_argument("--quick", action="store_true", help="2-core CPU setting: learners train 10-60 epochs")
    p.add_argument("--runs", type=int, default=1, help="learner restarts averaged per architecture (thesis: 10)")
    p.add_argument("--variants", default="", help="grid rows to run, e.g. laplacian:1,multires:1 (default: all 7)")


def _recommendation(p: argparse.ArgumentParser) -> None:
    add_out(p, _OUT_HELP, required=True)
    p.add_argument("--dataset", default="scorebank/default", metavar="scorebank/CONFIG",
                   help="scorebank/default or scorebank/tiny (with its scorebank_listening data)")
    add_data_dir(p)
    p.add_argument("--quick", action="store_true", help="2-core CPU setting: 600 steps per model, 500 words")
    p.add_argument("--steps", type=int, default=0, help="training steps of every model (default: the configs')")
    p.add_argument("--words", type=int, default=0, help="bag-of-words dictionary size (default 4,000)")
    p.add_argument("--seeds", type=int, default=1, help="training runs per model (tables show mean ± sd)")
    p.add_argument("--models", default="", help="comma-separated subset of bow_linear,bow_mlp,cnn_mse,cnn_wpe")


def _transfer(p: argparse.ArgumentParser) -> None:
    add_out(p, "study directory (features and SVM results are cached here; a rerun only redraws)", required=True)
    p.add_argument("--source", required=True, metavar="scorebank|PRETRAINED|WORKDIR",
                   help="scorebank: train (or reuse) OUT/source_scorebank with configs/choi_transfer.py; a "
                        "pretrained name such as musicnn-msd; or a trained workdir")
    p.add_argument("--tasks", default="", help="comma-separated target tasks (default: the scorebank tasks style,"
                                               "key,meter,composer,tempo); see mirjax/studies/transfer/targets.py")
    p.add_argument("--scorebank", default="default", choices=("default", "tiny"),
                   help="scorebank config of the scorebank tasks (and of the scorebank source)")
    add_config(p, required=False, help="source config for --source scorebank (default configs/choi_transfer.py)")
    p.add_argument("--checkpoint", default="best", choices=("best", "latest"), help="of a workdir source")
    add_data_dir(p)
    p.add_argument("--manual_dir", default="", metavar="DIR",
                   help="where real target datasets' files are (DIR/<dataset> if that exists, else DIR)")
    p.add_argument("--grid", default="full", help="SVM grid: full (the thesis's 64 points), small (16) or tiny (2)")
    p.add_argument("--folds", type=int, default=10, help="cross-validation folds (thesis: 10)")
    p.add_argument("--inner_folds", "--inner-folds", type=int, default=5, help="inner folds of the nested CV")
    p.add_argument("--nested", default="summary",
                   help="nested-CV scores for: summary (the summary's feature sets), all, none")
    p.add_argument("--max_items", "--max-items", type=int, default=0,
                   help="at most this many items per task (whole groups, seeded); 0 = all")
    p.add_argument("--max_iter", "--max-iter", type=int, default=-1,
                   help="cap on libsvm's iterations per binary problem (-1: until converged, as the thesis)")
    p.add_argument("--jobs", type=int, default=1, help="parallel SVM fits (scikit-learn n_jobs)")
    p.add_argument("--seconds", type=float, default=29.0, help="input length of the convnet feature (thesis: 29)")
    p.add_argument("--bn", default="source", choices=("source", "target"),
                   help="the trained network's batch-norm statistics: its training ones, or those of each target's "
                        "calibration clips (as the random network's, and as Keras 1's BN mode 2 at extraction)")


def _kcnn(p: argparse.ArgumentParser) -> None:
    add_out(p, _OUT_HELP, required=True)
    p.add_argument("--dataset", default="scorebank", help="scorebank | gtzan | ismir2004 | scorebank_tiny "
                                                          "(see configs/zhang_kcnn.py)")
    p.add_argument("--features", default="mel,sfm,scf,all", help="comma-separated table columns: mel,sfm,scf,all")
    p.add_argument("--setting", default="paper", choices=("paper", "quick", "tiny"),
                   help="paper: 10 folds × 10 seeds; quick: the 2-core CPU scale (configs/zhang_kcnn.py)")
    p.add_argument("--seeds", type=int, default=0, help="override the setting's seeds per cell")
    p.add_argument("--use_folds", "--use-folds", type=int, default=0, help="run only the first N outer folds")
    p.add_argument("--max_items", "--max-items", type=int, default=0, help="override the setting's item cap")
    p.add_argument("--epochs", type=int, default=0, help="override the setting's KCNN epochs")
    p.add_argument("--report_only", "--report-only", action="store_true",
                   help="table the finished cells in OUT without computing the missing ones")
    add_data_dir(p)
    p.add_argument("--manual_dir", default="", metavar="DIR", help="manual directory of a dataset to build")


def _convdbn(p: argparse.ArgumentParser) -> None:
    add_out(p, _OUT_HELP, required=True)
    p.add_argument("--quick", action="store_true",
                   help="2-core CPU setting: 1,200 training clips, 2 fine-tuning and 3 logistic-regression rates")
    p.add_argument("--scorebank", default="default", choices=("default", "tiny"), help="scorebank config")
    add_data_dir(p)
    p.add_argument("--tasks", default="", help="comma-separated subset of composer,style,tonic")
    p.add_argument("--max_train", "--max-train", type=int, default=0, help="training clips used (0: all, or "
                                                                             "--quick's 1,200)")
    p.add_argument("--subdivisions", type=int, default=4,
                   help="steps per tracked beat (scorebank clips are 10 s: 4 gives Ch. 2's network enough steps)")
    p.add_argument("--dbn_passes", "--dbn-passes", type=int, default=1,
                   help="passes of CD-1 over the pre-training tracks (thesis: 1, over the whole MSD)")


def _scorebank_config(dataset: str) -> str:
    """`scorebank/tiny` (or plain `tiny`) → `tiny`: these studies run on scorebank only."""
    base, slash, config = dataset.partition("/")
    if slash and base != "scorebank":
        raise UsageError(f"--dataset {dataset}: this study runs on scorebank/default or scorebank/tiny")
    return config if slash else base


def _run(module: str, namespace: dict):
    def run(args: argparse.Namespace):
        ns = argparse.Namespace(**{k: v for k, v in vars(args).items() if not k.startswith("_")})
        for name, fn in namespace.items():
            setattr(ns, name, fn(ns))
        return importlib.import_module(module).main(ns)
    return run


# name → (help, add-arguments, study module, Namespace fields derived from the parsed ones)
STUDIES = {
    "structures": ("Choi Ch. 4: k1c2 / k2c1 / k2c2 / CRNN at matched sizes", _structures,
                   "mirjax.studies.structures", {}),
    "preprocessing": ("Choi Ch. 5: input preprocessing, data size, init variance", _preprocessing,
                      "mirjax.studies.preprocessing", {}),
    "raw_audio": ("Dieleman Ch. 5: raw audio vs spectrograms (Tables 5.1-5.3)", _raw_audio,
                  "mirjax.studies.raw_audio", {}),
    "kmeans": ("Dieleman Ch. 3: multiscale spherical K-means features (Figs. 3.4-3.11)", _kmeans,
               "mirjax.studies.kmeans", {"dataset": lambda a: _scorebank_config(a.dataset)}),
    "recommendation": ("Dieleman Ch. 4: latent factors from audio (Tables 4.2-4.4, Fig. 4.1)", _recommendation,
                       "mirjax.studies.recommendation", {"scorebank": lambda a: _scorebank_config(a.dataset)}),
    "transfer": ("Choi Ch. 6: transfer learning with the multi-layer convnet feature + SVMs", _transfer,
                 "mirjax.studies.transfer", {}),
    "convdbn": ("Dieleman Ch. 2: conv-DBN on beat-aligned chroma/timbre (Table 2.1)", _convdbn,
                "mirjax.studies.convdbn", {}),
    "kcnn": ("Zhang et al.: KCNN on audio words vs SC / AE / DBN (Tables 2/3, Fig. 3)", _kcnn,
             "mirjax.studies.kcnn", {}),
}

STUDY = Command("study", "run a study: a resumable sweep of experiments with its tables and plots",
                subcommands=tuple(Command(name, help_, add, _run(module, derived))
                                  for name, (help_, add, module, derived) in STUDIES.items()))
