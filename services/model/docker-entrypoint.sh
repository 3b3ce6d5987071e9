#!/bin/sh
# The model container's entry point. SageMaker runs `docker run IMAGE serve` for an
# endpoint and `docker run IMAGE train` for a training job; the model pipeline's
# evaluation step runs `IMAGE evaluate` as a processing job.
set -eu

command="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$command" in
  serve)
    exec python -m services.model serve "$@"
    ;;
  train)
    exec python -m services.model.train "$@"
    ;;
  evaluate)
    # Publish the artifact's held-out evaluation (shared.contracts.model.Evaluation,
    # written by the training job) as the property file the pipeline's condition reads.
    model_dir="${KKOT_EVALUATE_MODEL_DIR:-/opt/ml/processing/model}"
    out_dir="${KKOT_EVALUATE_OUT_DIR:-/opt/ml/processing/evaluation}"
    work="$(mktemp -d)"
    tar -xzf "$model_dir/model.tar.gz" -C "$work"
    mkdir -p "$out_dir"
    exec python -c '
import sys
from pathlib import Path
from shared.contracts.model import EVALUATION_FILE, Evaluation
evaluation = Evaluation.model_validate_json(Path(sys.argv[1], EVALUATION_FILE).read_bytes())
Path(sys.argv[2], EVALUATION_FILE).write_text(evaluation.model_dump_json(), encoding="utf-8")
' "$work" "$out_dir"
    ;;
  *)
    exec "$command" "$@"
    ;;
esac
