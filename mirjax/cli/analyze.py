"""`mirjax analyze filters` (first-layer filters of a raw-audio tagger, Dieleman Ch. 5), `mirjax analyze tags`
(per-tag and tag-category analysis of evaluated workdirs, Choi Ch. 3-4) and `mirjax analyze auralise`
(deconvolved and auralised feature maps, Choi Ch. 7); `cooccurrence`, `label-noise` and `reliability` (Choi Ch. 3's
label-noise study) and `label-vectors` (Choi Ch. 7)."""

from __future__ import annotations

import argparse

from mirjax.cli.base import Command, add_config, add_data_dir, add_out, add_workdir


def _filters_args(p: argparse.ArgumentParser) -> None:
    add_workdir(p, "trained run of a dieleman_raw model")
    add_out(p, "output directory (default WORKDIR/filters)")
    p.add_argument("--checkpoint", default="best", choices=("best", "latest"))
    p.add_argument("--lowpass_hz", type=float, default=0.0,
                   help="smooth the pool-group waveforms for display (the thesis's Fig. 5.4 does); 0 = off")


def _filters(args: argparse.Namespace) -> int:
    from mirjax.analysis import filters
    print(filters.summary(filters.analyse(args.workdir, args.out or None, args.checkpoint, args.lowpass_hz)))
    return 0


def _tags_args(p: argparse.ArgumentParser) -> None:
    add_workdir(p, "evaluated run (repeat for several models)", multiple=True)
    p.add_argument("--names", default="", help="comma-separated model names, one per workdir")
    add_out(p, "output directory (default: the first workdir)")
    p.add_argument("--popularity", choices=("test", "train"), default="test",
                   help="count positives in the evaluated split's labels (cheap) or the training split (TFDS)")
    p.add_argument("--metric", choices=("roc", "pr"), default="roc", help="per-tag ROC-AUC or PR-AUC")
    p.add_argument("--reference", default="", help="model the others are compared with (default: first)")
    p.add_argument("--diff", default="", help="A,B: models whose difference A-B is plotted (default: 2nd,1st)")
    add_data_dir(p)


def _tags(args: argparse.Namespace) -> int:
    from mirjax.analysis import tags
    print(tags.summary(tags.run(args)))
    return 0


def _auralise_args(p: argparse.ArgumentParser) -> None:
    add_workdir(p, "trained run of a ReLU convnet on STFT magnitudes (configs/choi_auralisation.py)")
    p.add_argument("--audio", required=True, help="audio file to analyse (mono mix, resampled to the model's rate)")
    p.add_argument("--layer", default="1", help="conv layer(s), 1-based: 3, 1,3,5 or 1-5")
    p.add_argument("--features", default="0-7", help="feature maps, 0-based: 9, 0,5,9 or 0-7")
    p.add_argument("--offset", type=float, default=0.0, help="start of the analysed excerpt (s)")
    p.add_argument("--seconds", type=float, default=0.0, help="excerpt length (s); 0 = the model's input length")
    p.add_argument("--use_bias", action="store_true", help="add the conv biases in the forward pass (Choi's code "
                                                           "ignores them)")
    p.add_argument("--checkpoint", default="best", choices=("best", "latest"))
    add_out(p, "output directory for WAVs and PNGs", required=True)


def _auralise(args: argparse.Namespace) -> int:
    from mirjax.analysis import auralisation as au
    from mirjax.data.audio import AudioError, load_audio
    from mirjax.errors import UserError
    from mirjax.inference.model import from_workdir
    from mirjax.training.model_card import read_card

    model_cfg, frontend_cfg = au.workdir_sections(args.workdir)
    layers, features = au.parse_indices(args.layer, "--layer"), au.parse_indices(args.features, "--features")
    for layer in layers:  # bad input is reported before the checkpoint is restored
        au.check_indices(au.config_widths(model_cfg), layer, features)
    try:
        audio = load_audio(args.audio, int(read_card(args.workdir)["input"]["sample_rate"]))
    except AudioError as e:
        raise UserError(f"cannot read audio {e}") from None
    loaded = from_workdir(args.workdir, args.checkpoint)
    net = au.convnet_from_variables(loaded.variables, model_cfg, frontend_cfg, args.workdir)
    start = int(args.offset * loaded.sample_rate)
    length = int(args.seconds * loaded.sample_rate) if args.seconds > 0 else loaded.window_samples
    audio = audio[start:start + length]
    print(au.summary_text(au.run(audio, loaded.sample_rate, net, loaded.frontend, frontend_cfg, layers, features,
                                 args.out, args.use_bias)))
    return 0


def _config_or_none(args: argparse.Namespace):
    from mirjax.cli.base import load_config
    return load_config(args) if args.config else None


def _cooccurrence_args(p: argparse.ArgumentParser) -> None:
    add_config(p, required=False, help="experiment config whose dataset (and weak-labelling settings) give the "
                                       "labels, e.g. configs/choi_label_noise.py")
    p.add_argument("--split", default="train", help="split whose labels are counted (default train)")
    p.add_argument("--labels", default="", metavar="FILE.npy", help="a (items, tags) 0/1 matrix instead of --config")
    p.add_argument("--tag_names", default="", metavar="FILE", help="with --labels: one tag name per line")
    p.add_argument("--tags", default="", help="comma-separated tags to plot (default: all)")
    add_out(p, "output directory (default nco/)")


def _cooccurrence(args: argparse.Namespace) -> int:
    from mirjax.analysis import cooccurrence
    print(cooccurrence.summary(cooccurrence.run(args, _config_or_none(args))))
    return 0


def _label_noise_args(p: argparse.ArgumentParser) -> None:
    add_config(p, required=False, help="experiment config giving the split's GT labels (and, for a simulated weak "
                                       "labelling, the clean ones), e.g. configs/choi_label_noise.py")
    p.add_argument("--split", default="train", help="split the re-annotated items come from (default train)")
    p.add_argument("--reannotation", default="", metavar="CSV", help="item_id,tag,true_label[,gt_label] rows")
    p.add_argument("--random_subset", default="", metavar="CSV",
                   help="a uniformly random re-annotated subset, to check Eq. 3.2's estimate against")
    p.add_argument("--tags", default="", help="comma-separated tags (default: all in the CSV)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--write_subset", default="", metavar="CSV",
                   help="simulation: write a GT-balanced subset re-annotated with the clean tags, and stop")
    p.add_argument("--per_class", type=int, default=50, help="with --write_subset: GT-positive (and -negative) "
                                                            "items per tag (default 50, the thesis's Subset100)")
    p.add_argument("--write_random", default="", metavar="CSV",
                   help="simulation: write a uniformly random re-annotated subset (the thesis's Subset400)")
    p.add_argument("--random_items", type=int, default=400, help="with --write_random: items (default 400)")
    add_out(p, "output directory (default label_noise/)")


def _label_noise(args: argparse.Namespace) -> int:
    from mirjax.analysis import label_noise
    print(label_noise.summary(label_noise.run(args, _config_or_none(args))))
    return 0


def _reliability_args(p: argparse.ArgumentParser) -> None:
    add_workdir(p, "evaluated run (repeat: the set of systems)", multiple=True)
    p.add_argument("--names", default="", help="comma-separated system names, one per workdir")
    p.add_argument("--tags", default="", help="the re-annotated tags (default: the CSV's, else all)")
    p.add_argument("--reannotation", default="", metavar="CSV",
                   help="item_id,tag,true_label rows of the evaluated split (default: the reports' clean_* AUCs)")
    add_out(p, "output directory (default reliability/)")


def _reliability(args: argparse.Namespace) -> int:
    from mirjax.analysis import reliability
    print(reliability.summary(reliability.run(args)))
    return 0


def _label_vectors_args(p: argparse.ArgumentParser) -> None:
    add_workdir(p, "trained tagger")
    p.add_argument("--checkpoint", default="best", choices=("best", "latest"))
    p.add_argument("--similarity", default="cosine", choices=("cosine", "dot"),
                   help="cosine (unit-norm label vectors) or dot (Eq. 7.1 as written)")
    p.add_argument("--top", type=int, default=20, help="length of the top lists (default 20)")
    p.add_argument("--split", default="", help="split whose labels give the NCO (default: the training split)")
    add_out(p, "output directory (default WORKDIR/label_vectors)")


def _label_vectors(args: argparse.Namespace) -> int:
    from mirjax.analysis import label_vectors
    print(label_vectors.summary(label_vectors.analyse(args.workdir, args.out or None, args.checkpoint,
                                                      args.similarity == "cosine", args.top, args.split)))
    return 0


ANALYZE = Command("analyze", "analyses of trained or evaluated runs", subcommands=(
    Command("auralise", "deconvolve and listen to feature maps of a ReLU STFT convnet (Choi Ch. 7)",
            _auralise_args, _auralise),
    Command("filters", "plot the first-layer filters of a trained dieleman_raw model", _filters_args, _filters),
    Command("tags", "per-tag and tag-category analysis of evaluated runs", _tags_args, _tags),
    Command("cooccurrence", "tag co-occurrence (NCO) matrix of a split's labels (Choi Ch. 3)", _cooccurrence_args,
            _cooccurrence, overrides=True),
    Command("label-noise", "label-noise statistics and Eq. 3.2 from a re-annotated subset (Choi Ch. 3)",
            _label_noise_args, _label_noise, overrides=True),
    Command("reliability", "rho1/rho2: is evaluation against noisy labels reliable? (Choi Ch. 3)",
            _reliability_args, _reliability),
    Command("label-vectors", "label-vector similarity of a tagger's output layer vs tag co-occurrence (Choi Ch. 7)",
            _label_vectors_args, _label_vectors),
))
