"""The delivery stack (CI/CD), deployed once next to the production stage.

Application images: CodePipeline — Source (GitHub through a CodeConnections
connection by default, CodeCommit when `SourceProvider` says so) → Test (`make test`)
→ Build (images tagged with the commit id, pushed to both stages' ECR repositories;
the model image too, which starts the SageMaker pipeline) → Deploy staging → Manual
approval → Deploy production.

The model: a SageMaker Pipeline (train → evaluate → accuracy condition → register
into the model package group). Approving a package in the registry fires an
EventBridge rule that starts a CodeBuild project which updates the model stacks
(staging, then production) with the package's model data; the endpoint update is
blue/green with automatic rollback on the model stack's alarms."""

from __future__ import annotations

from collections.abc import Sequence

from awacs.aws import Condition, Statement, StringEquals, StringLike
from troposphere import Equals, GetAtt, If, Join, Output, Parameter, Ref, Sub, Template
from troposphere.codebuild import (
    Artifacts,
    CloudWatchLogs,
    LogsConfig,
    Project,
    Source,
    SourceAuth,
)
from troposphere.codebuild import Environment as BuildEnvironment
from troposphere.codebuild import EnvironmentVariable as BuildVariable
from troposphere.codepipeline import (
    Actions,
    ActionTypeId,
    ArtifactStore,
    EncryptionKey,
    InputArtifacts,
    OutputArtifacts,
    Pipeline,
    Stages,
)
from troposphere.events import InputTransformer, Rule, Target
from troposphere.iam import Policy, Role
from troposphere.logs import LogGroup
from troposphere.sagemaker import ModelPackageGroup, PipelineDefinition
from troposphere.sagemaker import Pipeline as SageMakerPipeline

from cfn.common import new_template
from cfn.naming import STAGES, add_export, import_value, scoped
from cfn.policies import actions, allow, arn, assume_role_policy, document
from cfn.sagemaker_pipeline import pipeline_definition
from cfn.stacks.application import SERVICES
from cfn.storage import add_private_bucket

__all__ = ["STACK", "build_delivery"]

STACK = "delivery"
NETWORK = "network"
DATA = "data-and-events"
BUILD_IMAGE = "aws/codebuild/standard:7.0"
# Debian bookworm with the project's Python: `apt-get install chromium` is Debian's real
# chromium there, as on a developer's machine (the official image, from public ECR).
DEBIAN_PYTHON_IMAGE = "public.ecr.aws/docker/library/python:3.11-slim-bookworm"
SOURCE = "SourceOutput"
BUILD = "BuildOutput"


def build_delivery() -> Template:
    """CodePipeline + CodeBuild for the images; SageMaker Pipeline + registry + deploy."""
    t = new_template("kkot delivery: CodePipeline/CodeBuild and the SageMaker model pipeline")
    provider = t.add_parameter(
        Parameter(
            "SourceProvider",
            Type="String",
            AllowedValues=["CodeConnections", "CodeCommit"],
            Default="CodeConnections",
            Description="Where the source comes from",
        )
    )
    connection = t.add_parameter(
        Parameter(
            "ConnectionArn",
            Type="String",
            Default="",
            Description="CodeConnections (CodeStar Connections) ARN for GitHub",
        )
    )
    repository = t.add_parameter(
        Parameter(
            "FullRepositoryId",
            Type="String",
            Default="example/kkot",
            Description="GitHub owner/name (CodeConnections) or the CodeCommit repository name",
        )
    )
    branch = t.add_parameter(
        Parameter("BranchName", Type="String", Default="main", Description="Branch to release")
    )
    retention = t.add_parameter(
        Parameter(
            "LogRetentionDays",
            Type="Number",
            Default=30,
            AllowedValues=[7, 14, 30, 60, 90, 180, 365],
            Description="Days to keep build logs",
        )
    )
    t.add_condition("UseCodeCommit", Equals(Ref(provider), "CodeCommit"))

    key_arn = import_value(DATA, "DataKeyArn")
    artifacts = add_private_bucket(
        t, "ArtifactBucket", key_arn, import_value(DATA, "AccessLogBucketName")
    )
    log_group = t.add_resource(
        LogGroup(
            "BuildLogGroup",
            LogGroupName=Sub("/kkot/${Stage}/codebuild"),
            RetentionInDays=Ref(retention),
            KmsKeyId=import_value(NETWORK, "LogsKeyArn"),
        )
    )

    package_group = t.add_resource(
        ModelPackageGroup(
            "ModelPackageGroup",
            ModelPackageGroupName=package_group_name(),
            ModelPackageGroupDescription="kkot flower classifiers (approve to deploy)",
        )
    )
    sm_role = add_sagemaker_pipeline_role(t, key_arn)
    t.add_resource(
        SageMakerPipeline(
            "ModelPipeline",
            PipelineName=scoped("model"),
            PipelineDisplayName=scoped("model"),
            PipelineDescription="train -> evaluate -> accuracy check -> register",
            RoleArn=GetAtt(sm_role, "Arn"),
            PipelineDefinition=PipelineDefinition(
                PipelineDefinitionBody=Sub(
                    pipeline_definition(),
                    ModelsBucket=import_value(DATA, "ModelsBucketName"),
                    DataKeyArn=key_arn,
                    PipelineRoleArn=GetAtt(sm_role, "Arn"),
                    ModelPackageGroup=Ref(package_group),
                )
            ),
        )
    )

    projects = add_build_projects(t, artifacts, log_group, key_arn)
    pipeline = add_pipeline(
        t, artifacts, key_arn, projects, connection=connection, repository=repository, branch=branch
    )
    add_codecommit_trigger(t, pipeline, repository, branch)
    add_approval_trigger(t, projects["DeployEndpoint"])

    add_export(t, STACK, "ArtifactBucketName", Ref(artifacts), "Pipeline artifacts")
    # The name, not `Ref` (which is the group's ARN for this resource type).
    add_export(t, STACK, "ModelPackageGroupName", package_group_name(), "Model registry group")
    t.add_output(Output("ModelPipelineName", Value=scoped("model"), Description="SageMaker"))
    return t


def package_group_name() -> Sub:
    """The model package group's name, `kkot-<stage>-flowers` (one source for the
    resource, the approval rule, the export and the builds' environment)."""
    return scoped("flowers")


def build_role(t: Template, name: str, statements: Sequence[Statement]) -> Role:
    """A CodeBuild service role with the statements its project needs."""
    return t.add_resource(
        Role(
            f"{name}BuildRole",
            Path="/kkot/",
            AssumeRolePolicyDocument=assume_role_policy("codebuild.amazonaws.com"),
            Policies=[Policy(PolicyName=f"{name}-build", PolicyDocument=document(*statements))],
        )
    )


def add_build_projects(
    t: Template, artifacts: object, log_group: LogGroup, key_arn: object
) -> dict[str, Project]:
    """Test, image build, model build and endpoint deploy projects, each with its role."""
    artifact_arn = GetAtt(artifacts, "Arn")
    common = [
        allow(
            actions("logs", "CreateLogStream", "PutLogEvents"),
            [arn("logs", "log-group:/kkot/${Stage}/codebuild:log-stream:*")],
        ),
        allow(
            actions("s3", "GetObject", "GetObjectVersion", "PutObject"),
            [Join("", [artifact_arn, "/*"])],
        ),
        allow(actions("kms", "Decrypt", "GenerateDataKey"), [key_arn]),
    ]
    ecr_push = [
        # Only works on "*" (see tests/cfn/test_iam.py).
        allow(actions("ecr", "GetAuthorizationToken"), ["*"]),
        allow(
            actions(
                "ecr",
                "BatchCheckLayerAvailability",
                "BatchGetImage",
                "CompleteLayerUpload",
                "DescribeImages",
                "DescribeRepositories",
                "GetDownloadUrlForLayer",
                "InitiateLayerUpload",
                "PutImage",
                "UploadLayerPart",
            ),
            [arn("ecr", f"repository/kkot-{stage}-*") for stage in STAGES],
        ),
        # Pushing to a KMS-encrypted repository: both stages' data keys.
        allow(
            actions("kms", "Decrypt", "GenerateDataKey"),
            [arn("kms", "key/*")],
            condition=Condition(
                StringEquals({"kms:ViaService": Sub("ecr.${AWS::Region}.amazonaws.com")})
            ),
        ),
    ]
    # The model build reads the deployed model's accuracy (the latest approved package's
    # evaluation) as the pipeline's baseline, then starts the pipeline.
    baseline = [
        # A list action: SageMaker authorizes it on "*" only (see tests/cfn/test_iam.py).
        allow(actions("sagemaker", "ListModelPackages"), ["*"]),
        allow(
            actions("sagemaker", "DescribeModelPackage"),
            [arn("sagemaker", "model-package/kkot-${Stage}-flowers/*")],
        ),
        allow(
            actions("s3", "GetObject"),
            [Join("", [import_value(DATA, "ModelsBucketArn"), "/evaluation/*"])],
        ),
    ]
    start_pipeline = allow(
        actions("sagemaker", "StartPipelineExecution", "DescribePipelineExecution"),
        [
            arn("sagemaker", "pipeline/kkot-${Stage}-model"),
            arn("sagemaker", "pipeline/kkot-${Stage}-model/*"),
        ],
    )
    deploy_endpoint = deploy_endpoint_statements()
    specs = {
        # The project's tests need Debian's chromium (Ubuntu's is a snap shim that cannot
        # run in a container) and a Docker engine of their own for the container tests.
        "Test": (
            "ci/buildspec-test.yml",
            common,
            True,
            "BUILD_GENERAL1_MEDIUM",
            DEBIAN_PYTHON_IMAGE,
        ),
        "Images": (
            "ci/buildspec-build.yml",
            common + ecr_push,
            True,
            "BUILD_GENERAL1_MEDIUM",
            BUILD_IMAGE,
        ),
        "ModelImage": (
            "ci/buildspec-model.yml",
            [*common, *ecr_push, *baseline, start_pipeline],
            True,
            "BUILD_GENERAL1_LARGE",
            BUILD_IMAGE,
        ),
    }
    projects: dict[str, Project] = {}
    # Privileged: `docker build` (and the container tests) need a Docker daemon, which
    # CodeBuild allows only in privileged mode.
    for name, (buildspec, statements, privileged, compute, image) in specs.items():
        role = build_role(t, name, statements)
        projects[name] = t.add_resource(
            Project(
                f"{name}Project",
                Name=scoped(name.lower()),
                ServiceRole=GetAtt(role, "Arn"),
                EncryptionKey=key_arn,
                Source=Source(Type="CODEPIPELINE", BuildSpec=buildspec),
                Artifacts=Artifacts(Type="CODEPIPELINE"),
                TimeoutInMinutes=90,
                Environment=BuildEnvironment(
                    Type="LINUX_CONTAINER",
                    ComputeType=compute,
                    Image=image,
                    PrivilegedMode=privileged,
                    EnvironmentVariables=build_variables(),
                ),
                LogsConfig=LogsConfig(
                    CloudWatchLogs=CloudWatchLogs(
                        Status="ENABLED", GroupName=Ref(log_group), StreamName=name.lower()
                    )
                ),
            )
        )
    # Started by EventBridge, not by the pipeline: it checks the release branch out
    # itself (through the same connection or repository as the pipeline's source) to
    # install kkot and run `kkot release model`.
    deploy_role = build_role(
        t, "DeployEndpoint", [*common[:1], *source_statements(), *deploy_endpoint]
    )
    projects["DeployEndpoint"] = t.add_resource(
        Project(
            "DeployEndpointProject",
            Name=scoped("deploy-endpoint"),
            ServiceRole=GetAtt(deploy_role, "Arn"),
            EncryptionKey=key_arn,
            Source=If("UseCodeCommit", codecommit_source(), github_source()),
            SourceVersion=Ref("BranchName"),
            Artifacts=Artifacts(Type="NO_ARTIFACTS"),
            TimeoutInMinutes=180,
            Environment=BuildEnvironment(
                Type="LINUX_CONTAINER",
                ComputeType="BUILD_GENERAL1_SMALL",
                Image=DEBIAN_PYTHON_IMAGE,
                EnvironmentVariables=[
                    *build_variables(),
                    BuildVariable(Name="TARGET_STAGES", Value=" ".join(STAGES)),
                ],
            ),
            LogsConfig=LogsConfig(
                CloudWatchLogs=CloudWatchLogs(
                    Status="ENABLED", GroupName=Ref(log_group), StreamName="deploy-endpoint"
                )
            ),
        )
    )
    return projects


class ConnectionSourceAuth(SourceAuth):  # type: ignore[misc]
    """SourceAuth of type CODECONNECTIONS, which CodeBuild and CloudFormation accept but
    troposphere 4.x's validator (OAUTH only) does not know yet."""

    def validate(self) -> None:
        if self.properties.get("Type") != "CODECONNECTIONS":
            raise ValueError("ConnectionSourceAuth is for Type CODECONNECTIONS")


DEPLOY_BUILDSPEC = "ci/buildspec-deploy-endpoint.yml"


def github_source() -> Source:
    """The GitHub repository through the CodeConnections connection (the default)."""
    return Source(
        Type="GITHUB",
        Location=Sub("https://github.com/${FullRepositoryId}.git"),
        Auth=ConnectionSourceAuth(Type="CODECONNECTIONS", Resource=Ref("ConnectionArn")),
        BuildSpec=DEPLOY_BUILDSPEC,
    )


def codecommit_source() -> Source:
    """The CodeCommit repository (SourceProvider=CodeCommit)."""
    return Source(
        Type="CODECOMMIT",
        Location=Sub(
            "https://git-codecommit.${AWS::Region}.amazonaws.com/v1/repos/${FullRepositoryId}"
        ),
        BuildSpec=DEPLOY_BUILDSPEC,
    )


def source_statements() -> list[Statement]:
    """Checking the repository out: through the connection (GitHub) or from CodeCommit."""
    return [
        allow(
            actions("codestar-connections", "GetConnection", "GetConnectionToken", "UseConnection")
            + actions("codeconnections", "GetConnection", "GetConnectionToken", "UseConnection"),
            [
                arn("codestar-connections", "connection/*"),
                arn("codeconnections", "connection/*"),
            ],
        ),
        allow(actions("codecommit", "GitPull"), [arn("codecommit", "${FullRepositoryId}")]),
    ]


def build_variables() -> list[BuildVariable]:
    """Environment every build gets: the stages and the SageMaker pipeline's name."""
    return [
        BuildVariable(Name="KKOT_STAGES", Value=" ".join(STAGES)),
        BuildVariable(Name="MODEL_PIPELINE_NAME", Value=scoped("model")),
        BuildVariable(Name="MODEL_PACKAGE_GROUP", Value=package_group_name()),
    ]


def deploy_endpoint_statements() -> list[Statement]:
    """What `kkot release model` needs (ci/buildspec-deploy-endpoint.yml): read the
    approved package, copy its artifact from the pipeline's bucket (production's) into
    each stage's models bucket, update each stage's model stack through a change set
    that reuses the template, and what CloudFormation then does with these credentials
    (no stack service role): create the SageMaker model and endpoint config, update the
    endpoint, tag and clean up, pass the model's execution role, and the KMS grant of
    the encrypted endpoint config."""
    model_stacks = [arn("cloudformation", f"stack/kkot-{stage}-model/*") for stage in STAGES]
    models_buckets = [import_value(DATA, "ModelsBucketArn", stage) for stage in STAGES]
    data_keys = [import_value(DATA, "DataKeyArn", stage) for stage in STAGES]
    sagemaker_resources = [
        arn("sagemaker", "model/*"),
        arn("sagemaker", "endpoint-config/*"),
        *(arn("sagemaker", f"endpoint/kkot-{stage}-flowers") for stage in STAGES),
    ]
    return [
        allow(
            actions(
                "cloudformation",
                "CreateChangeSet",
                "DeleteChangeSet",
                "DescribeChangeSet",
                "DescribeStackEvents",
                "DescribeStacks",
                "ExecuteChangeSet",
                # The capabilities of a change set on the previous template are read
                # from that template (services.aws.stacks.deploy_stack).
                "GetTemplate",
            ),
            model_stacks,
        ),
        # The release reads each stage's bucket and key from its data stack's outputs
        # and checks the model image is in the stage's repository before updating.
        allow(
            actions("cloudformation", "DescribeStacks"),
            [arn("cloudformation", f"stack/kkot-{stage}-data-and-events/*") for stage in STAGES],
        ),
        allow(
            actions("ecr", "DescribeImages"),
            [arn("ecr", f"repository/kkot-{stage}-model") for stage in STAGES],
        ),
        # Once a stage serves the package, the release announces model.deployed on the
        # stage's bus (WAS refreshes what it knows about the served model).
        allow(
            actions("events", "PutEvents"),
            [import_value(DATA, "EventBusArn", stage) for stage in STAGES],
        ),
        allow(
            actions("sagemaker", "DescribeModelPackage"),
            [arn("sagemaker", "model-package/kkot-${Stage}-flowers/*")],
        ),
        # The pipeline writes the artifact under production's training/ prefix; the
        # release copies it into every stage's bucket under models/packages/<group>/
        # <version>/ (ListBucket makes a missing object a 404, not a 403).
        allow(actions("s3", "GetObject"), [Join("", [b, "/*"]) for b in models_buckets]),
        allow(
            actions("s3", "PutObject"),
            [Join("", [b, "/models/packages/*"]) for b in models_buckets],
        ),
        allow(actions("s3", "ListBucket"), models_buckets),
        allow(actions("kms", "Decrypt", "DescribeKey", "GenerateDataKey"), data_keys),
        allow(
            actions(
                "sagemaker",
                "AddTags",
                "CreateEndpointConfig",
                "CreateModel",
                "DeleteEndpointConfig",
                "DeleteModel",
                "DeleteTags",
                "DescribeEndpoint",
                "DescribeEndpointConfig",
                "DescribeModel",
                "ListTags",
                "UpdateEndpoint",
            ),
            sagemaker_resources,
        ),
        # CreateModel passes the model stack's execution role (CloudFormation names it
        # <stack>-<logical id>-<suffix> under the /kkot/ path).
        allow(
            actions("iam", "PassRole"),
            [
                arn("iam", f"role/kkot/kkot-{stage}-model-SageMakerExecutionRole-*", region=False)
                for stage in STAGES
            ],
            condition=Condition(StringEquals({"iam:PassedToService": "sagemaker.amazonaws.com"})),
        ),
        allow(
            actions("kms", "CreateGrant", "DescribeKey"),
            data_keys,
            condition=Condition(
                StringEquals({"kms:ViaService": Sub("sagemaker.${AWS::Region}.amazonaws.com")})
            ),
        ),
    ]


def add_sagemaker_pipeline_role(t: Template, key_arn: object) -> Role:
    """The role the SageMaker pipeline and its training/processing jobs run as."""
    models_arn = import_value(DATA, "ModelsBucketArn")
    return t.add_resource(
        Role(
            "SageMakerPipelineRole",
            Path="/kkot/",
            AssumeRolePolicyDocument=assume_role_policy("sagemaker.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="model-pipeline",
                    PolicyDocument=document(
                        allow(
                            actions(
                                "sagemaker",
                                "AddTags",
                                "CreateProcessingJob",
                                "CreateTrainingJob",
                                "DescribeProcessingJob",
                                "DescribeTrainingJob",
                                "StopProcessingJob",
                                "StopTrainingJob",
                            ),
                            [
                                arn("sagemaker", "training-job/*"),
                                arn("sagemaker", "processing-job/*"),
                            ],
                        ),
                        allow(
                            actions(
                                "sagemaker",
                                "CreateModelPackage",
                                "DescribeModelPackage",
                                "DescribeModelPackageGroup",
                            ),
                            [
                                arn("sagemaker", "model-package/kkot-${Stage}-flowers/*"),
                                arn("sagemaker", "model-package-group/kkot-${Stage}-flowers"),
                            ],
                        ),
                        allow(
                            actions("iam", "PassRole"),
                            [arn("iam", "role/kkot/*", region=False)],
                            condition=Condition(
                                StringEquals({"iam:PassedToService": "sagemaker.amazonaws.com"})
                            ),
                        ),
                        allow(
                            actions("s3", "GetObject", "PutObject"),
                            [Join("", [models_arn, "/*"])],
                        ),
                        allow(actions("s3", "ListBucket"), [models_arn]),
                        allow(
                            actions(
                                "ecr",
                                "BatchCheckLayerAvailability",
                                "BatchGetImage",
                                "GetDownloadUrlForLayer",
                            ),
                            [import_value(DATA, "ModelRepositoryArn")],
                        ),
                        # Only works on "*" (see tests/cfn/test_iam.py).
                        allow(actions("ecr", "GetAuthorizationToken"), ["*"]),
                        allow(
                            actions("logs", "CreateLogGroup", "CreateLogStream", "PutLogEvents"),
                            [arn("logs", "log-group:/aws/sagemaker/*")],
                        ),
                        allow(
                            actions("cloudwatch", "PutMetricData"),
                            ["*"],
                            condition=Condition(
                                StringLike({"cloudwatch:namespace": "/aws/sagemaker/*"})
                            ),
                        ),
                        allow(
                            actions(
                                "kms", "CreateGrant", "Decrypt", "DescribeKey", "GenerateDataKey"
                            ),
                            [key_arn],
                        ),
                    ),
                )
            ],
        )
    )


def add_pipeline(
    t: Template,
    artifacts: object,
    key_arn: object,
    projects: dict[str, Project],
    *,
    connection: Parameter,
    repository: Parameter,
    branch: Parameter,
) -> Pipeline:
    """Source -> Test -> Build -> Deploy staging -> Approval -> Deploy production."""
    role = t.add_resource(
        Role(
            "PipelineRole",
            Path="/kkot/",
            AssumeRolePolicyDocument=assume_role_policy("codepipeline.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="release",
                    PolicyDocument=document(
                        allow(
                            actions("s3", "GetBucketVersioning", "ListBucket"),
                            [GetAtt(artifacts, "Arn")],
                        ),
                        allow(
                            actions("s3", "GetObject", "GetObjectVersion", "PutObject"),
                            [Join("", [GetAtt(artifacts, "Arn"), "/*"])],
                        ),
                        allow(actions("kms", "Decrypt", "GenerateDataKey"), [key_arn]),
                        allow(
                            actions("codestar-connections", "UseConnection")
                            + actions("codeconnections", "UseConnection"),
                            [
                                arn("codestar-connections", "connection/*"),
                                arn("codeconnections", "connection/*"),
                            ],
                        ),
                        allow(
                            actions(
                                "codecommit",
                                "GetBranch",
                                "GetCommit",
                                "GetUploadArchiveStatus",
                                "UploadArchive",
                            ),
                            [arn("codecommit", "${FullRepositoryId}")],
                        ),
                        allow(
                            actions("codebuild", "BatchGetBuilds", "StartBuild"),
                            [
                                GetAtt(projects[name], "Arn")
                                for name in ("Test", "Images", "ModelImage")
                            ],
                        ),
                        allow(
                            actions("ecs", "DescribeServices", "UpdateService"),
                            [
                                arn("ecs", f"service/AppEcsCluster-{stage}/{spec.service_name}")
                                for stage in STAGES
                                for spec in SERVICES
                            ],
                        ),
                        # Task definitions are registered, not addressed: "*" only.
                        allow(
                            actions("ecs", "DescribeTaskDefinition", "RegisterTaskDefinition"),
                            ["*"],
                        ),
                        allow(
                            actions("ecs", "TagResource"),
                            [arn("ecs", "task-definition/kkot-*:*")],
                        ),
                        allow(
                            actions("iam", "PassRole"),
                            [arn("iam", "role/kkot/*", region=False)],
                            condition=Condition(
                                StringEquals({"iam:PassedToService": "ecs-tasks.amazonaws.com"})
                            ),
                        ),
                    ),
                )
            ],
        )
    )

    source_action = If(
        "UseCodeCommit",
        Actions(
            Name="Source",
            ActionTypeId=ActionTypeId(
                Category="Source", Owner="AWS", Provider="CodeCommit", Version="1"
            ),
            Configuration={
                "RepositoryName": Ref(repository),
                "BranchName": Ref(branch),
                "PollForSourceChanges": "false",
            },
            OutputArtifacts=[OutputArtifacts(Name=SOURCE)],
            RunOrder=1,
        ),
        Actions(
            Name="Source",
            ActionTypeId=ActionTypeId(
                Category="Source", Owner="AWS", Provider="CodeStarSourceConnection", Version="1"
            ),
            Configuration={
                "ConnectionArn": Ref(connection),
                "FullRepositoryId": Ref(repository),
                "BranchName": Ref(branch),
                "OutputArtifactFormat": "CODE_ZIP",
            },
            OutputArtifacts=[OutputArtifacts(Name=SOURCE)],
            RunOrder=1,
        ),
    )

    def codebuild(name: str, project: Project, outputs: list[str]) -> Actions:
        return Actions(
            Name=name,
            ActionTypeId=ActionTypeId(
                Category="Build", Owner="AWS", Provider="CodeBuild", Version="1"
            ),
            Configuration={"ProjectName": Ref(project)},
            InputArtifacts=[InputArtifacts(Name=SOURCE)],
            OutputArtifacts=[OutputArtifacts(Name=o) for o in outputs],
            RunOrder=1,
        )

    def deploy(stage: str) -> Stages:
        return Stages(
            Name=f"Deploy-{stage}",
            Actions=[
                Actions(
                    Name=f"{spec.name}-{stage}",
                    ActionTypeId=ActionTypeId(
                        Category="Deploy", Owner="AWS", Provider="ECS", Version="1"
                    ),
                    Configuration={
                        "ClusterName": f"AppEcsCluster-{stage}",
                        "ServiceName": spec.service_name,
                        "FileName": f"imagedefinitions-{stage}-{spec.name}.json",
                        "DeploymentTimeout": "30",
                    },
                    InputArtifacts=[InputArtifacts(Name=BUILD)],
                    RunOrder=1,
                )
                for spec in SERVICES
            ],
        )

    return t.add_resource(
        Pipeline(
            "ReleasePipeline",
            Name=scoped("release"),
            RoleArn=GetAtt(role, "Arn"),
            RestartExecutionOnUpdate=False,
            ArtifactStore=ArtifactStore(
                Type="S3",
                Location=Ref(artifacts),
                EncryptionKey=EncryptionKey(Id=key_arn, Type="KMS"),
            ),
            Stages=[
                Stages(Name="Source", Actions=[source_action]),
                Stages(Name="Test", Actions=[codebuild("make-test", projects["Test"], [])]),
                Stages(
                    Name="Build",
                    Actions=[
                        codebuild("images", projects["Images"], [BUILD]),
                        codebuild("model-image", projects["ModelImage"], []),
                    ],
                ),
                deploy(STAGES[0]),
                Stages(
                    Name="Approve",
                    Actions=[
                        Actions(
                            Name="promote-to-production",
                            ActionTypeId=ActionTypeId(
                                Category="Approval", Owner="AWS", Provider="Manual", Version="1"
                            ),
                            Configuration={
                                "CustomData": "Staging is live: approve to deploy to production"
                            },
                            RunOrder=1,
                        )
                    ],
                ),
                deploy(STAGES[1]),
            ],
        )
    )


def add_approval_trigger(t: Template, project: Project) -> Rule:
    """EventBridge: an Approved model package starts the endpoint deploy with its ARN."""
    role = t.add_resource(
        Role(
            "ApprovalTriggerRole",
            Path="/kkot/",
            AssumeRolePolicyDocument=assume_role_policy("events.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="start-deploy",
                    PolicyDocument=document(
                        allow(actions("codebuild", "StartBuild"), [GetAtt(project, "Arn")])
                    ),
                )
            ],
        )
    )
    return t.add_resource(
        Rule(
            "ModelApprovedRule",
            Description="An approved kkot model package deploys to the endpoints",
            EventPattern={
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {
                    # SageMaker's event carries the group's name; `Ref` of an
                    # AWS::SageMaker::ModelPackageGroup is its ARN and would never match.
                    "ModelPackageGroupName": [package_group_name()],
                    "ModelApprovalStatus": ["Approved"],
                },
            },
            State="ENABLED",
            Targets=[
                Target(
                    Id="deploy-endpoint",
                    Arn=GetAtt(project, "Arn"),
                    RoleArn=GetAtt(role, "Arn"),
                    InputTransformer=InputTransformer(
                        InputPathsMap={"package": "$.detail.ModelPackageArn"},
                        InputTemplate=(
                            '{"environmentVariablesOverride": [{"name": "MODEL_PACKAGE_ARN",'
                            ' "type": "PLAINTEXT", "value": <package>}]}'
                        ),
                    ),
                )
            ],
        )
    )


def add_codecommit_trigger(
    t: Template, pipeline: Pipeline, repository: Parameter, branch: Parameter
) -> Rule:
    """With CodeCommit, a push to the branch starts the release pipeline. The source
    action does not poll (PollForSourceChanges=false, as AWS recommends), so without
    this rule the pipeline would never start. CodeConnections starts it by itself."""
    pipeline_arn = arn("codepipeline", f"${{{pipeline.title}}}")
    role = t.add_resource(
        Role(
            "SourceTriggerRole",
            Condition="UseCodeCommit",
            Path="/kkot/",
            AssumeRolePolicyDocument=assume_role_policy("events.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="start-release",
                    PolicyDocument=document(
                        allow(actions("codepipeline", "StartPipelineExecution"), [pipeline_arn])
                    ),
                )
            ],
        )
    )
    return t.add_resource(
        Rule(
            "SourcePushedRule",
            Condition="UseCodeCommit",
            Description="A push to the release branch in CodeCommit starts the release pipeline",
            EventPattern={
                "source": ["aws.codecommit"],
                "detail-type": ["CodeCommit Repository State Change"],
                "resources": [arn("codecommit", f"${{{repository.title}}}")],
                "detail": {
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceType": ["branch"],
                    "referenceName": [Ref(branch)],
                },
            },
            State="ENABLED",
            Targets=[Target(Id="release-pipeline", Arn=pipeline_arn, RoleArn=GetAtt(role, "Arn"))],
        )
    )
