#!/bin/sh
# The model container's entry point: `IMAGE serve` (endpoint), `IMAGE train` (training
# job), `IMAGE evaluate` (the pipeline's processing step); no argument serves.
[ "$#" -gt 0 ] || set -- serve
exec python -m services.model "$@"
