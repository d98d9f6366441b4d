"""What every `mirjax` command shares: the command registry entry, the flag vocabulary (`--config FILE[:ARG]`,
`--config.KEY=VALUE`, `--workdir`, `--out`, `--dataset`), the runtime set-up done once before a command runs
(TensorFlow quiet and off the accelerators, logging levels) and the one error path.

Exit statuses: 0 done; 2 a user error (`mirjax.errors.UserError`, a missing/unreadable file or a bad command
line), printed as one `error: …` line; 3 training diverged; 130 interrupted. Any other exception is a bug and keeps
its traceback. `--debug` prints the traceback of a user error too.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from mirjax.errors import UserError

USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError)
EXIT_USER_ERROR, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 130


@dataclasses.dataclass(frozen=True)
class Command:
    """One `mirjax` (sub)command. A leaf has `run(args) -> exit status | None` and `add_arguments(parser)`; a
    group has `subcommands`. `overrides=True` lets the command take `--config.KEY=VALUE` (in
    `args.config_overrides`, applied by `load_config`)."""
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    run: Callable[[argparse.Namespace], int | None] | None = None
    subcommands: tuple[Command, ...] = ()
    overrides: bool = False
    description: str = ""


class UsageError(UserError):
    """A bad command line (printed like any user error)."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one `error: …` line (exit 2) instead of the usage text plus a message."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# --- the flag vocabulary -------------------------------------------------------------------------

CONFIG_HELP = ("config file, e.g. configs/default.py[:ARG] (its get_config(ARG)); override any value with "
               "--config.KEY=VALUE, e.g. --config.train.num_steps=100")


def add_config(parser: argparse.ArgumentParser, required: bool = True, help: str = CONFIG_HELP) -> None:
    parser.add_argument("--config", required=required, default="" if not required else None,
                        metavar="FILE[:ARG]", help=help)


def add_workdir(parser: argparse.ArgumentParser, help: str, multiple: bool = False, required: bool = True) -> None:
    if multiple:
        parser.add_argument("--workdir", action="append", required=required, metavar="DIR", help=help)
    else:
        parser.add_argument("--workdir", required=required, metavar="DIR", help=help)


def add_out(parser: argparse.ArgumentParser, help: str, required: bool = False, metavar: str = "DIR") -> None:
    parser.add_argument("--out", required=required, default="", metavar=metavar, help=help)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data_dir", default="", metavar="DIR",
                        help="TFDS data dir (default: $MIRJAX_DATA_DIR or ~/.cache/mirjax/tensorflow_datasets)")


def add_launch(parser: argparse.ArgumentParser) -> None:
    """The explicit multi-process launch (one process per host, all with the same command but --process_id);
    `mirjax.training.sharding.maybe_initialize_distributed` reads these, then the MIRJAX_* variables, then what JAX
    detects."""
    g = parser.add_argument_group("multi-process runs (one process per host; single-process runs need none)")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="address of process 0, where JAX's coordinator listens (or $MIRJAX_COORDINATOR)")
    g.add_argument("--num_processes", type=int, default=None, metavar="N",
                   help="number of processes (or $MIRJAX_NUM_PROCESSES)")
    g.add_argument("--process_id", type=int, default=None, metavar="I",
                   help="this process's index, 0 … N-1 (or $MIRJAX_PROCESS_ID)")


def load_config(args: argparse.Namespace, reference: Callable | None = None):
    """`args.config` loaded by `mirjax.config.load_config` against `reference` (default the base config),
    `args.config_overrides` applied and the result validated again against the same schema."""
    from mirjax import config as config_lib
    from mirjax.cli.overrides import apply_overrides

    ref = (reference or config_lib.base_config)()
    config = config_lib.load_config(args.config, reference=ref)
    overrides = getattr(args, "config_overrides", ())
    if overrides:
        apply_overrides(config, overrides)
        config_lib.validate(config, ref)
    return config


def require_dir(path: str, what: str = "workdir") -> str:
    if not os.path.isdir(path):
        raise UserError(f"{what} {path} does not exist" if not os.path.exists(path)
                        else f"{what} {path} is not a directory")
    return path


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """`--config.KEY=VALUE` and `--config.KEY VALUE` out of `argv`: (the other arguments, [(KEY, VALUE), …])."""
    rest, overrides = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg.startswith("--config."):
            key, eq, value = arg[len("--config."):].partition("=")
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"{arg} needs a value: {arg}=VALUE")
                i += 1
                value = argv[i]
            if not key:
                raise UsageError(f"{arg}: no config key after --config.")
            overrides.append((key, value))
        else:
            rest.append(arg)
        i += 1
    return rest, overrides


# --- runtime set-up, once per process ------------------------------------------------------------

_tf_configured = False


def quiet_environment() -> None:
    """Before anything imports TensorFlow. TF 2.21 logs its oneDNN notice (and absl's "All log messages before
    absl::InitializeLog()" line) before it reads TF_CPP_MIN_LOG_LEVEL, so no level hides them: TensorFlow here
    only feeds tf.data, so its oneDNN kernels are switched off instead, which removes both lines. Level 2 hides
    the C++ INFO and WARNING lines of TensorFlow and XLA (e.g. tf.data's end-of-sequence warnings). A value the
    user set is kept."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def configure_runtime() -> None:
    """Logging (ours at INFO, absl and other libraries at WARNING) and TensorFlow kept off any GPU (JAX owns the
    accelerator; TF only reads data)."""
    global _tf_configured
    quiet_environment()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter())
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    logging.getLogger("mirjax").setLevel(logging.INFO)
    from absl import logging as absl_logging
    absl_logging.set_verbosity(absl_logging.WARNING)
    logging.getLogger("absl").addFilter(_drop_tfds_dtype_warning)  # one filter however often this runs
    if _tf_configured:
        return
    import tensorflow as tf
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TF's devices already initialised by the caller (in-process use): leave them
        pass
    tf.get_logger().setLevel("ERROR")
    _tf_configured = True


def _drop_tfds_dtype_warning(record: logging.LogRecord) -> bool:
    """TFDS's own tensor decoding reads its deprecated `FeatureConnector.dtype` and warns about it on every run;
    nothing a user can act on."""
    return "FeatureConnector.dtype" not in record.getMessage()


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


# --- the one error path --------------------------------------------------------------------------

def one_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


def _diverged(e: BaseException) -> bool:
    trainer = sys.modules.get("mirjax.training.trainer")  # not loaded → cannot have been raised
    return trainer is not None and isinstance(e, getattr(trainer, "TrainingDiverged", ()))


def run_guarded(fn: Callable[[], int | None], debug: bool) -> int:
    """`fn()`'s exit status, with user errors, divergence and Ctrl-C as one line on stderr."""
    try:
        return int(fn() or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - re-raised below unless it is one of ours
        if isinstance(e, USER_ERRORS):
            status = EXIT_USER_ERROR
        elif _diverged(e):
            status = EXIT_DIVERGED
        else:
            raise
        if debug and not isinstance(e, UsageError):
            traceback.print_exc()
        sys.stdout.flush()
        print(f"error: {one_line(e)}", file=sys.stderr)
        return status
