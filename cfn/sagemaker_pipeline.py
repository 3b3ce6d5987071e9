"""The SageMaker Pipeline definition (JSON) of the model: train with the project's own
container, evaluate, check the accuracy, register into the model package group.

The training step runs the image with SageMaker's training-job contract (`<image>
train`: channels `train` and `validation` under /opt/ml/input/data, the artifact in
/opt/ml/model). The evaluation step runs the serving image as a processing job
(`<image> evaluate`), which publishes the artifact's held-out evaluation record as
the property file the condition reads. The condition — above `AccuracyThreshold` and no
worse than the deployed model (`BaselineAccuracy`) — is generated from
shared.deploy_condition, the rule `kkot pipeline run` decides with. `${...}`
placeholders are filled by Fn::Sub.
"""

from __future__ import annotations

import json
from typing import Any

from services.model.train.hyperparameters import DEFAULT_BACKBONE, DEFAULT_TTA
from shared.contracts.prediction import JSON_CONTENT_TYPE
from shared.deploy_condition import BOUND_DEFAULTS, CONDITION, Bound, sagemaker_conditions
from shared.image_formats import ACCEPTED_MIME_TYPES

__all__ = ["pipeline_definition"]

EVALUATION_FILE = "evaluation.json"
EVALUATE_STEP = "Evaluate"
EVALUATION_PROPERTY_FILE = "EvaluationReport"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _param(name: str) -> dict[str, str]:
    return {"Get": f"Parameters.{name}"}


def _parameters() -> list[dict[str, Any]]:
    return [
        {"Name": "TrainingImageUri", "Type": "String"},
        {"Name": "InferenceImageUri", "Type": "String"},
        {
            "Name": "TrainDataUrl",
            "Type": "String",
            "DefaultValue": "s3://${ModelsBucket}/datasets/flowers/train/",
        },
        {
            "Name": "ValidationDataUrl",
            "Type": "String",
            "DefaultValue": "s3://${ModelsBucket}/datasets/flowers/validation/",
        },
        {"Name": "TrainingInstanceType", "Type": "String", "DefaultValue": "ml.m5.xlarge"},
        # The model's hyperparameters (services.model.train.hyperparameters), defaulting to
        # the measured best; the training job embeds on the GPU when the instance has one.
        {"Name": "Backbone", "Type": "String", "DefaultValue": DEFAULT_BACKBONE},
        {"Name": "TestTimeAugmentation", "Type": "String", "DefaultValue": _flag(DEFAULT_TTA)},
        # The deploy condition's bounds. BaselineAccuracy is the accuracy of the model
        # deployed now (the latest approved package); ci/buildspec-model.yml fills it in.
        *({"Name": b.value, "Type": "Float", "DefaultValue": BOUND_DEFAULTS[b]} for b in Bound),
        {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"},
    ]


def _channel(name: str, url_parameter: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": _param(url_parameter),
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }


def _train_step() -> dict[str, Any]:
    return {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {
                "TrainingImage": _param("TrainingImageUri"),
                "TrainingInputMode": "File",
            },
            "RoleArn": "${PipelineRoleArn}",
            "InputDataConfig": [
                _channel("train", "TrainDataUrl"),
                _channel("validation", "ValidationDataUrl"),
            ],
            "OutputDataConfig": {
                "S3OutputPath": "s3://${ModelsBucket}/training",
                "KmsKeyId": "${DataKeyArn}",
            },
            "ResourceConfig": {
                "InstanceCount": 1,
                "InstanceType": _param("TrainingInstanceType"),
                "VolumeSizeInGB": 30,
                "VolumeKmsKeyId": "${DataKeyArn}",
            },
            # SageMaker hands these to the container as strings in hyperparameters.json.
            "HyperParameters": {
                "backbone": _param("Backbone"),
                "tta": _param("TestTimeAugmentation"),
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 7200},
            # The backbone's weights ship inside the image: no network needed.
            "EnableNetworkIsolation": True,
        },
    }


def _evaluate_step() -> dict[str, Any]:
    return {
        "Name": EVALUATE_STEP,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {
                "ImageUri": _param("InferenceImageUri"),
                "ContainerArguments": ["evaluate"],
            },
            "RoleArn": "${PipelineRoleArn}",
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 30,
                    "VolumeKmsKeyId": "${DataKeyArn}",
                }
            },
            "ProcessingInputs": [
                {
                    "InputName": "model",
                    "AppManaged": False,
                    "S3Input": {
                        "S3Uri": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
                        "LocalPath": "/opt/ml/processing/model",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    },
                }
            ],
            "ProcessingOutputConfig": {
                "KmsKeyId": "${DataKeyArn}",
                "Outputs": [
                    {
                        "OutputName": "evaluation",
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": {
                                "Std:Join": {
                                    "On": "/",
                                    "Values": [
                                        "s3://${ModelsBucket}/evaluation",
                                        {"Get": "Execution.PipelineExecutionId"},
                                    ],
                                }
                            },
                            "LocalPath": "/opt/ml/processing/evaluation",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ],
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        },
        "PropertyFiles": [
            {
                "PropertyFileName": EVALUATION_PROPERTY_FILE,
                "OutputName": "evaluation",
                "FilePath": EVALUATION_FILE,
            }
        ],
    }


def _register_step() -> dict[str, Any]:
    evaluation_uri = {
        "Std:Join": {
            "On": "/",
            "Values": [
                {
                    "Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation']"
                    ".S3Output.S3Uri"
                },
                EVALUATION_FILE,
            ],
        }
    }
    return {
        "Name": "Register",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": "${ModelPackageGroup}",
            "ModelApprovalStatus": _param("ModelApprovalStatus"),
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": _param("InferenceImageUri"),
                        "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
                    }
                ],
                "SupportedContentTypes": [*ACCEPTED_MIME_TYPES, JSON_CONTENT_TYPE],
                "SupportedResponseMIMETypes": ["application/json"],
                "SupportedRealtimeInferenceInstanceTypes": ["ml.c5.large", "ml.m5.large"],
            },
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": evaluation_uri}
                }
            },
        },
    }


def _condition_step() -> dict[str, Any]:
    checks = " and ".join(check.as_text() for check in CONDITION)
    return {
        "Name": "AccuracyCheck",
        "Type": "Condition",
        "Arguments": {
            "Conditions": sagemaker_conditions(EVALUATION_PROPERTY_FILE, EVALUATE_STEP),
            "IfSteps": [_register_step()],
            "ElseSteps": [
                {
                    "Name": "AccuracyTooLow",
                    "Type": "Fail",
                    "Arguments": {"ErrorMessage": f"deploy condition failed: not {checks}"},
                }
            ],
        },
    }


def pipeline_definition() -> str:
    """The definition as compact, key-sorted JSON (deterministic), with `${}` placeholders
    for ModelsBucket, DataKeyArn, PipelineRoleArn and ModelPackageGroup."""
    definition = {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": _parameters(),
        "PipelineExperimentConfig": {
            "ExperimentName": {"Get": "Execution.PipelineName"},
            "TrialName": {"Get": "Execution.PipelineExecutionId"},
        },
        "Steps": [_train_step(), _evaluate_step(), _condition_step()],
    }
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))
