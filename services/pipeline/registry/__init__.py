"""The model registry: `ModelRegistry` (interface), `LocalRegistry` (embedded default),
`SageMakerRegistry` (the SageMaker Model Registry; `sagemaker_registry(settings)`).

`deployed_model_dir(registry_root)` tells `kkot run` which artifact to serve after a
restart.
"""

from services.pipeline.registry.interface import ModelRegistry
from services.pipeline.registry.local import LocalRegistry, deployed_model_dir
from services.pipeline.registry.records import (
    ApprovalStatus,
    DeploymentRecord,
    DeploymentState,
    Lineage,
    ModelVersion,
)
from services.pipeline.registry.sagemaker import SageMakerRegistry, sagemaker_registry

__all__ = [
    "ApprovalStatus",
    "DeploymentRecord",
    "DeploymentState",
    "Lineage",
    "LocalRegistry",
    "ModelRegistry",
    "ModelVersion",
    "SageMakerRegistry",
    "deployed_model_dir",
    "sagemaker_registry",
]
