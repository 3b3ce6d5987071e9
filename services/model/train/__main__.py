"""`python -m services.model.train` (the container's `train`): run one training job.

The flags, the failure file and the exit codes are services.model.train.command's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from services.model.train.command import add_train_arguments, run_job
from shared.logging import configure_logging

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, configure logging, run the job; the process's exit code."""
    parser = argparse.ArgumentParser(prog="python -m services.model.train", description=__doc__)
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging()
    return run_job(args)


if __name__ == "__main__":
    sys.exit(main())
