"""The `mirjax` command (also `python -m mirjax`; `train.py` and `eval.py` at the repository root are wrappers):

    mirjax train     --config configs/NAME.py[:ARG] --workdir DIR [--config.KEY=VALUE …]
    mirjax eval      --config … --workdir DIR [--workdir DIR2 …]
    mirjax tag       PATH… (--workdir DIR | --pretrained NAME) --out DIR [--overlap F] [--taggram_png]
    mirjax embed     PATH… (--workdir DIR | --pretrained NAME) --layers A,B --out DIR [--pooling mean_std]
    mirjax export    (--workdir DIR | --pretrained NAME) --out DIR [--batch N] [--formats stablehlo,savedmodel]
    mirjax data      build|info NAME[/CONFIG] [--manual_dir DIR] [--data_dir DIR]
    mirjax features  --config configs/dieleman_kmeans.py:… --workdir DIR [--config.KEY=VALUE …]
    mirjax words     --config configs/zhang_kcnn_train.py [--out VOCAB.npz] [--types mel,sfm,scf] […]
    mirjax study     structures|preprocessing|raw_audio|kmeans|recommendation --out DIR […]
    mirjax recommend targets|codebook […]
    mirjax analyze   filters|tags --workdir DIR […]

One vocabulary: `--config FILE[:ARG]` is always a config file, `--config.KEY=VALUE` overrides one of its values,
`--workdir` is a run's directory, `--out` any other output, a dataset is `NAME[/CONFIG]` (or `--dataset`), and
`--debug` shows the traceback of a user error. `mirjax COMMAND --help` lists a command's options.

This package is the top layer: it imports the rest of mirjax (lazily, inside each command's run function, so
that `--help` is fast) and nothing in mirjax imports it.

A command is one `Command` entry in `COMMANDS` (name, help, add-arguments function, run function).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mirjax.cli.analyze import ANALYZE
from mirjax.cli.base import (
    Command,
    Parser,
    UsageError,
    configure_runtime,
    quiet_environment,
    run_guarded,
    split_overrides,
)
from mirjax.cli.data import DATA
from mirjax.cli.experiment import EVAL, FEATURES, TRAIN, WORDS
from mirjax.cli.export import EXPORT
from mirjax.cli.inference import EMBED, TAG
from mirjax.cli.recommend import RECOMMEND
from mirjax.cli.study import STUDY

COMMANDS: tuple[Command, ...] = (TRAIN, EVAL, TAG, EMBED, EXPORT, DATA, FEATURES, WORDS, STUDY, RECOMMEND,
                                 ANALYZE)

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


def build_parser(commands: Sequence[Command] = COMMANDS) -> argparse.ArgumentParser:
    doc = (__doc__ or "").split("\n\n")
    parser = Parser(prog="mirjax", description="mirjax: music information retrieval in JAX.",
                    epilog="\n\n".join(doc[1:3]) if len(doc) > 2 else None,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show the traceback of user errors too")
    _add_commands(parser, commands, "mirjax")
    return parser


def _add_commands(parser: argparse.ArgumentParser, commands: Sequence[Command], prog: str) -> None:
    debug = Parser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of user errors too")
    sub = parser.add_subparsers(metavar="COMMAND", required=True, parser_class=Parser)
    for c in commands:
        p = sub.add_parser(c.name, help=c.help, description=c.description or c.help, parents=[debug])
        if c.subcommands:
            _add_commands(p, c.subcommands, f"{prog} {c.name}")
            continue
        if c.add_arguments:
            c.add_arguments(p)
        if c.overrides:
            p.epilog = "--config.KEY=VALUE (or --config.KEY VALUE) overrides one value of the config file."
        p.set_defaults(_command=c, _prog=f"{prog} {c.name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run `mirjax ARGS` and return its exit status (0, 2 user error, 3 diverged, 130 interrupted); `--help`
    raises SystemExit(0) as argparse does."""
    quiet_environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv

    def run() -> int | None:
        args_, overrides = split_overrides(argv)
        args = build_parser().parse_args(args_)
        command: Command = args._command
        if overrides and not command.overrides:
            raise UsageError(f"{args._prog} takes no --config.KEY overrides (got --config.{overrides[0][0]})")
        args.config_overrides = overrides
        configure_runtime()
        return command.run(args)

    return run_guarded(run, debug)
