"""`mirjax data build NAME[/CONFIG]` and `mirjax data info NAME[/CONFIG]`: build a registered dataset (generated,
or from the files a user downloaded into --manual_dir) and print its split sizes and build summary.

A builder's module may define `summary_lines(builder) -> list[str]` (scorebank prints its tag counts); the
others print `mirjax.data.manual.summary_lines` (each split's kept/skipped counts, or the split sizes)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from mirjax.cli.base import Command, UsageError, add_data_dir
from mirjax.errors import UserError


def add_dataset(p: argparse.ArgumentParser, default: str | None = None, what: str = "dataset") -> None:
    """A dataset named by `NAME[/CONFIG]`, positional or `--dataset` (read with `dataset_name(args)`)."""
    p.add_argument("name", nargs="?", default=None, metavar="NAME[/CONFIG]",
                   help=f"{what}, e.g. scorebank/tiny or magnatagatune/clean")
    p.add_argument("--dataset", default=None, metavar="NAME[/CONFIG]", help=f"the {what} (same as NAME)")
    p.set_defaults(_dataset_default=default)


def dataset_name(args: argparse.Namespace) -> str:
    if args.name and args.dataset and args.name != args.dataset:
        raise UsageError(f"two datasets given: {args.name} and --dataset {args.dataset}")
    name = args.name or args.dataset or args._dataset_default
    if not name:
        raise UsageError("name a dataset: NAME[/CONFIG] or --dataset NAME[/CONFIG], e.g. scorebank/tiny")
    return name


def mirjax_datasets() -> list[str]:
    """The TFDS names of the builders that mirjax.data registers."""
    import tensorflow_datasets as tfds

    import mirjax.data  # noqa: F401  (registers the builders)
    names = set()
    for mod_name, mod in list(sys.modules.items()):
        if not mod_name.startswith("mirjax.data.") or mod is None:
            continue
        for obj in vars(mod).values():
            if (isinstance(obj, type) and issubclass(obj, tfds.core.DatasetBuilder) and obj.__module__ == mod_name
                    and getattr(obj, "name", None)):
                try:
                    if tfds.builder_cls(obj.name) is obj:
                        names.add(obj.name)
                except Exception:  # noqa: BLE001 - not registered (abstract bases)
                    pass
    return sorted(names)


def builder(name: str, data_dir: str = ""):
    """The TFDS builder of `NAME[/CONFIG]` in `data_dir` (default mirjax's cache), not prepared; an unknown
    name or config is a one-line UserError."""
    import tensorflow_datasets as tfds

    import mirjax.data  # noqa: F401  (registers the builders)
    from mirjax.data import default_data_dir

    base, _, config = name.partition("/")
    try:
        cls = tfds.builder_cls(base)
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f"unknown dataset '{base}'; mirjax's datasets: {', '.join(mirjax_datasets())}") from None
    configs = [c.name for c in getattr(cls, "BUILDER_CONFIGS", None) or []]
    if config and config not in configs:
        raise UserError(f"dataset '{base}' has no config '{config}'; configs: {', '.join(configs) or 'none'}")
    kwargs = {"config": config} if config else {}
    return cls(data_dir=os.path.expanduser(data_dir or default_data_dir()), **kwargs)


def summary_lines(b) -> list[str]:
    module = sys.modules.get(type(b).__module__)
    fn = getattr(module, "summary_lines", None)
    if fn is None:
        from mirjax.data.manual import summary_lines as fn
    return fn(b)


def _full_name(b) -> str:
    return f"{b.name}/{b.builder_config.name}" if b.builder_config else b.name


def _build_args(p: argparse.ArgumentParser) -> None:
    add_dataset(p)
    p.add_argument("--manual_dir", default="", metavar="DIR",
                   help="folder holding a real dataset's downloaded files (see docs/datasets.md); "
                        "default <data_dir>/downloads/manual")
    add_data_dir(p)


def _build(args: argparse.Namespace) -> int:
    import tensorflow_datasets as tfds
    b = builder(dataset_name(args), args.data_dir)
    if b.is_prepared():
        print(f"{_full_name(b)} {b.version} already built in {b.data_dir}")
    else:
        t0 = time.time()
        manual = os.path.expanduser(args.manual_dir) if args.manual_dir else None
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual))
        print(f"{_full_name(b)} built in {time.time() - t0:.1f} s into {b.data_dir}")
    print("\n".join(summary_lines(b)))
    return 0


def _info_args(p: argparse.ArgumentParser) -> None:
    add_dataset(p)
    add_data_dir(p)


def _info(args: argparse.Namespace) -> int:
    from mirjax.data import default_data_dir
    name = dataset_name(args)
    b = builder(name, args.data_dir)
    if not b.is_prepared():
        raise UserError(f"{name} is not built in {args.data_dir or default_data_dir()}; "
                        f"build it with `mirjax data build {name}`")
    print(f"{_full_name(b)} {b.version} in {b.data_dir}")
    print("\n".join(summary_lines(b)))
    return 0


DATA = Command("data", "build or inspect a dataset", subcommands=(
    Command("build", "build a dataset (or report it built) and print its summary", _build_args, _build,
            description="Build a registered dataset into the data dir: generated ones (scorebank, "
                        "scorebank_listening) from installed packages, real ones from --manual_dir."),
    Command("info", "print a built dataset's split sizes and build summary", _info_args, _info),
))
