"""`mirjax export`: a trained (`--workdir`) or pretrained (`--pretrained`) model, front-end included, as one
function of audio windows (StableHLO via jax.export, and a TensorFlow SavedModel)."""

from __future__ import annotations

import argparse

from mirjax.cli.base import Command, add_out


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workdir", default="", metavar="DIR", help="a trained run (needs only its workdir)")
    p.add_argument("--pretrained", default="", metavar="NAME", help="a registered pretrained model")
    p.add_argument("--checkpoint", default="best", choices=("best", "latest"), help="with --workdir")
    add_out(p, "output directory for model.stablehlo, saved_model/ and model_card.json", required=True)
    p.add_argument("--batch", type=int, default=None, metavar="N",
                   help="a fixed batch size (default: any batch size, where the model allows it)")
    p.add_argument("--formats", default="stablehlo,savedmodel", metavar="F,…",
                   help="comma-separated: stablehlo, savedmodel")
    p.add_argument("--platforms", default="", metavar="P,…",
                   help="lower for these platforms (cpu, cuda, rocm, tpu); default: cpu and the JAX backend")
    p.add_argument("--no_verify", action="store_true",
                   help="skip running the artefacts on random audio against the JAX model")


def _export(args: argparse.Namespace) -> int:
    from mirjax.errors import UserError
    from mirjax.inference import export, model

    formats = export._check_formats(args.formats)  # a bad flag fails before the model loads
    if args.batch is not None and args.batch < 1:
        raise UserError(f"--batch must be at least 1, got {args.batch}")
    loaded = model.load(args.workdir, args.pretrained, args.checkpoint)
    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()] or None
    summary = export.export(loaded, args.out, args.batch, formats, platforms, verify=not args.no_verify)
    print(f"exported {loaded.source}: audio float32 ({summary['batch']}, {loaded.window_samples}) at "
          f"{loaded.sample_rate} Hz -> scores float32 ({summary['batch']}, {len(loaded.outputs)}) "
          f"[{loaded.card.get('activation', 'sigmoid')}], platforms {', '.join(summary['platforms'])}")
    if summary["note"]:
        print(f"note: {summary['note']}")
    for what, path in summary["files"].items():
        diff = summary["max_abs_diff"].get(what)
        print(f"wrote {path}" + (f"  (max |diff| vs JAX {diff:.1e})" if diff is not None else ""))
    return 0


EXPORT = Command("export", "export a model, front-end included, as StableHLO and a TensorFlow SavedModel",
                 _export_args, _export,
                 description="Serialise audio windows (batch, samples) -> scores (batch, outputs) of a trained or "
                             "pretrained model: --out/model.stablehlo (jax.export), --out/saved_model/ "
                             "(TensorFlow, signature serving_default: audio -> scores) and --out/model_card.json.")
