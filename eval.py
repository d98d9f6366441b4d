"""Evaluate one model or an ensemble: `python eval.py --config configs/NAME.py --workdir DIR [--workdir DIR2 ...]`,
the same as `mirjax eval …` (this file is kept for the design card). Writes report.json and PNG plots into the
first workdir."""

import sys

from mirjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["eval", *sys.argv[1:]]))
