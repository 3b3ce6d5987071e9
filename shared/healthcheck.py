"""The images' HEALTHCHECK: `python -m shared.healthcheck URL` exits 0 when URL answers
2xx within the timeout and 1 otherwise (refused, timed out, any other status).

Slim images have no curl, so the interpreter that is already there probes; standard
library only, so it runs in every image whatever extras it has."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from http import HTTPStatus

__all__ = ["healthy", "main"]


def healthy(url: str, timeout: float) -> bool:
    """Whether a GET of `url` answers 2xx within `timeout` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
    except (urllib.error.URLError, OSError):
        return False
    return HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: the URL, and --timeout in seconds (default 3)."""
    parser = argparse.ArgumentParser(prog="python -m shared.healthcheck", description=__doc__)
    parser.add_argument("url", help="e.g. http://127.0.0.1:8080/health")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default 3)")
    args = parser.parse_args(argv)
    return 0 if healthy(args.url, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
