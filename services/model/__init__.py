"""The SageMaker model container: `serve` (inference) and `train` (training job)."""
