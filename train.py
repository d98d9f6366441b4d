"""Train (or resume) an experiment: `python train.py --config configs/NAME.py[:ARG] --workdir DIR
[--config.KEY=VALUE ...]`, the same as `mirjax train …` (this file is kept for the design card)."""

import sys

from mirjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
