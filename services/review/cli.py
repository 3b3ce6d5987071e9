"""`kkot data review`: rank the photos whose label the model doubts.

    kkot data review --data DIR [--out var/review] [--feedback DIR]... [--feedback-url URL]
                     [--min-probability 0.5] [--limit 200]
                     [--hyperparameters FILE] [--seed N] [--cv-folds K]

Writes `<out>/review_set.json` (shared.contracts.review.ReviewSet) and thumbnails for
the web UI's Review page; prints a JSON summary on stdout (progress on stderr).
Exit codes: 0 done, 1 unusable data or options (reason on stderr). Which photos are
near-duplicates is the training job's rule for its folds (services.model.train.groups),
not an option: the review and the folds must call the same photos twins.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from services.review.ranking import DEFAULT_MIN_PROBABILITY
from shared.logging import configure_logging, get_logger

__all__ = ["DEFAULT_REVIEW_DIR", "register"]

DEFAULT_REVIEW_DIR = Path("var/review")
_SHOWN = 10  # photos listed in the printed summary
_log = get_logger("kkot.review.cli")


def register(subparsers: Any) -> None:
    """Add `data review` to the `kkot` command."""
    data = subparsers.add_parser("data", help="look after the training photos")
    sub = data.add_subparsers(dest="data_command", required=True)
    review = sub.add_parser("review", help="rank the photos whose label the model doubts")
    review.add_argument("--data", type=Path, required=True, help="image folder, one dir per class")
    review.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_REVIEW_DIR,
        help="where the review set goes (default var/review, where the web UI looks)",
    )
    review.add_argument(
        "--feedback", type=Path, action="append", default=[], help="exported feedback folder(s)"
    )
    review.add_argument("--feedback-url", help="WAS (or gateway) URL to export feedback from")
    review.add_argument("--api-key", help="API key for --feedback-url through the gateway")
    review.add_argument(
        "--min-probability",
        type=float,
        default=DEFAULT_MIN_PROBABILITY,
        help="doubt labels the model gives less",
    )
    review.add_argument("--limit", type=int, default=200, help="photos in the review set")
    review.add_argument("--hyperparameters", type=Path, help="hyperparameters.json")
    review.add_argument("--seed", type=int, help="fold and head seed")
    review.add_argument("--cv-folds", type=int, help="folds of the out-of-fold opinion")
    review.set_defaults(func=_review_command)


def _review_command(args: argparse.Namespace) -> int:
    from services.model.train.errors import TrainingError
    from services.pipeline.errors import PipelineError

    configure_logging()
    try:
        return _review(args)
    except (TrainingError, PipelineError, ValueError) as exc:
        _log.error("review_failed", reason=str(exc))
        sys.stderr.write(f"error: {exc}\n")
        return 1


def _review(args: argparse.Namespace) -> int:
    from services.model.train.hyperparameters import load_hyperparameters
    from services.review.build import ReviewOptions, build_review_set
    from shared.contracts.review import OVERRIDES_FILE, REVIEW_SET_FILE

    if not 0 < args.min_probability <= 1 or args.limit < 1:
        raise ValueError("--min-probability lies in (0, 1], --limit >= 1")
    hp = load_hyperparameters(args.hyperparameters).with_overrides(
        seed=args.seed, cv_folds=args.cv_folds
    )
    with tempfile.TemporaryDirectory(prefix="kkot-review-feedback-") as work:
        feedback = list(args.feedback)
        if args.feedback_url:
            from services.pipeline.feedback import export_feedback

            target = Path(work) / "feedback"
            asyncio.run(export_feedback(args.feedback_url, target, api_key=args.api_key))
            feedback.append(target)
        review = build_review_set(
            ReviewOptions(
                data=args.data,
                out=args.out,
                feedback=tuple(feedback),
                hyperparameters=hp,
                min_probability=args.min_probability,
                limit=args.limit,
            )
        )
    reasons = Counter(e.reason.value for item in review.items for e in item.reasons)
    summary = {
        "review_set": str(args.out / REVIEW_SET_FILE),
        "examined": review.examined,
        "doubtful": len(review.items),
        "reasons": dict(sorted(reasons.items())),
        "method": review.method,
        "top": [
            {
                "path": item.path,
                "label": item.label,
                "predicted": item.predicted,
                "score": item.score,
                "reasons": [e.reason.value for e in item.reasons],
            }
            for item in review.items[:_SHOWN]
        ],
        "next": "open the Review page (/review) of `kkot run`, then "
        f"`kkot pipeline run --data {args.data} --overrides {args.out / OVERRIDES_FILE}`",
    }
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0
