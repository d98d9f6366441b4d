"""`python -m mirjax …` is the `mirjax` command."""

import sys

from mirjax.cli import main

if __name__ == "__main__":
    sys.exit(main())
