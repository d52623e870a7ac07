"""``python -m benchmarks``: the benchmark suite (see ``suite.py`` and README.md)."""
import sys

from .suite import cli

if __name__ == "__main__":
    sys.exit(cli())
