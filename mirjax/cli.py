"""Shared command-line plumbing for train.py and eval.py: absl flags with ml_collections config files
(`--config configs/NAME.py[:ARG]`, `--config.KEY=VALUE`), and one clear line instead of a traceback for the
errors a user can fix."""

from __future__ import annotations

import logging
import re
import os
import sys
from typing import Callable

from absl import app, flags
from ml_collections import config_flags

# Errors a user can fix: bad config, missing files, bad data. Everything else keeps its traceback.
_USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, KeyError, TypeError)


def define_flags(multiple_workdirs: bool = False) -> None:
    config_flags.DEFINE_config_file("config", None, "experiment config file, e.g. configs/default.py[:arg]",
                                    lock_config=True)
    if multiple_workdirs:
        flags.DEFINE_multi_string("workdir", None, "workdir(s) to evaluate; several form an ensemble")
    else:
        flags.DEFINE_string("workdir", None, "directory for checkpoints, metrics and reports")
    flags.mark_flags_as_required(["config", "workdir"])


def run(main: Callable[[], int | None]) -> None:
    def _main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        # Our progress messages at INFO; libraries (orbax logs every save at INFO) at WARNING.
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.WARNING)
        logging.getLogger("mirjax").setLevel(logging.INFO)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        _quiet_tf()
        try:
            return main()
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except _USER_ERRORS as e:
            print(f"error: {_one_line(e)}", file=sys.stderr)
            return 2
        except RuntimeError as e:
            if type(e).__name__ == "TrainingDiverged":
                print(f"error: {e}", file=sys.stderr)
                return 3
            raise

    app.run(_main, flags_parser=_parse_flags)


def _parse_flags(argv: list[str]) -> list[str]:
    """absl flag parsing, with override errors (`--config.train.batchsize=…`) as one line, not a traceback."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        _die(f"error: {e}")
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        m = re.search(r"[A-Za-z_][A-Za-z0-9_]*", str(e))
        key = m.group(0) if m else ""
        culprit = next((a.split("=")[0] for a in argv if a.startswith("--config.") and
                        re.search(rf"\.{key}(\.|=)", a.split("=")[0] + "=")), "a --config.* override")
        _die(f"error: unknown config key in {culprit}: {_one_line(e)}")
    return []


def _one_line(e: BaseException) -> str:
    text = str(e).strip().replace("\\n", " ").replace("\\'", "'")
    if text[:1] in "'\"" and text[-1:] == text[:1]:
        text = text[1:-1]
    return " ".join(text.split())


def _die(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(2)


def _quiet_tf() -> None:
    # tf.data only: keep TensorFlow off any accelerator JAX wants, and quiet.
    import tensorflow as tf
    tf.config.set_visible_devices([], "GPU")
    tf.get_logger().setLevel("ERROR")
