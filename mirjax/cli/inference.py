"""`mirjax tag` and `mirjax embed`: a trained (`--workdir`) or pretrained (`--pretrained`) model on any audio files
and folders."""

from __future__ import annotations

import argparse
import os

from mirjax.cli.base import Command, add_out


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files and folders (searched recursively)")
    p.add_argument("--workdir", default="", metavar="DIR", help="a trained run (needs only its workdir)")
    p.add_argument("--pretrained", default="", metavar="NAME", help="a registered pretrained model")
    p.add_argument("--checkpoint", default="best", choices=("best", "latest"), help="with --workdir")
    p.add_argument("--overlap", type=float, default=0.0, help="fraction of a window shared by neighbours, in [0, 1)")
    p.add_argument("--batch", type=int, default=32, help="windows per step (of all files together)")
    p.add_argument("--min_seconds", type=float, default=0.5, help="shorter files are skipped")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")


def _tag_args(p: argparse.ArgumentParser) -> None:
    _model_args(p)
    add_out(p, "output directory for tags.csv, tags.json (and taggrams/)", required=True)
    p.add_argument("--top", type=int, default=5, help="tags listed per file")
    p.add_argument("--taggram_png", action="store_true", help="also plot each file's taggram")


def _tagger(args: argparse.Namespace):
    from mirjax.inference import Tagger, model
    return Tagger(model.load(args.workdir, args.pretrained, args.checkpoint), args.batch)


def _report(result, paths) -> None:
    for path, reason in result.skipped:
        print(f"skipped {path}: {reason}")
    print(f"{len(result.files)} file(s) done, {len(result.skipped)} skipped; wrote {', '.join(paths)}")


def _tag(args: argparse.Namespace) -> int:
    from mirjax.inference import outputs
    tagger = _tagger(args)
    result = tagger.tag(args.paths, args.overlap, args.min_seconds, progress=not args.no_progress)
    written = outputs.write_tags(result, args.out, args.top, args.taggram_png)
    for f in result.files[:20]:
        print(f"{f.path}: " + ", ".join(f"{t} {s:.2f}" for t, s in f.top(result.outputs, args.top)))
    if len(result.files) > 20:
        print(f"… and {len(result.files) - 20} more in {os.path.join(args.out, 'tags.csv')}")
    _report(result, written)
    return 0


def _embed_args(p: argparse.ArgumentParser) -> None:
    _model_args(p)
    add_out(p, "output directory for embeddings.npz")
    p.add_argument("--layers", default="", help="comma-separated layer names (submodules, or values a model sows); "
                                                "e.g. Choi's convnet feature: ConvBlock_0,…,ConvBlock_4")
    p.add_argument("--pooling", choices=("mean", "mean_std"), default="mean", help="per-file pooling over windows")
    p.add_argument("--list_layers", action="store_true", help="print the model's layer names and stop")


def _embed(args: argparse.Namespace) -> int:
    from mirjax.errors import UserError
    from mirjax.inference import outputs
    tagger = _tagger(args)
    if args.list_layers:
        print("\n".join(tagger.layer_names()))
        return 0
    if not args.out:
        raise UserError("mirjax embed needs --out DIR")
    layers = [name for name in args.layers.split(",") if name]
    result = tagger.embed(args.paths, layers, args.overlap, args.min_seconds, progress=not args.no_progress)
    path = outputs.write_embeddings(result, args.out, args.pooling)
    dims = {name: v.shape[-1] for name, v in (result.files[0].layers.items() if result.files else [])}
    print("dims: " + ", ".join(f"{k} {d}" for k, d in dims.items()) + f" (total {sum(dims.values())})")
    _report(result, [path])
    return 0


TAG = Command("tag", "tag audio files and folders with a trained or pretrained model", _tag_args, _tag,
              description="Cut each file into windows of the model's input length, tag every window, and write "
                          "each file's top tags and full taggram (tags.csv, tags.json) into --out.")
EMBED = Command("embed", "embeddings of audio files from named layers of a model", _embed_args, _embed,
                description="Per-window and per-file (pooled) outputs of named layers, averaged over all but their "
                            "channel axis, into --out/embeddings.npz.")
