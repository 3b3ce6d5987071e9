"""`kkot aws ...` and `kkot release model`: the operator's and the release pipeline's
commands for the AWS half, on boto3.

Every command takes its clients from one `boto3.Session`, so the standard settings
(`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, the credential chain) apply as they
do to the AWS CLI. Modules, one job each:

    session       the boto3 session (AWS_REGION wins over AWS_DEFAULT_REGION)
    errors        AwsCommandError, the one error the commands raise
    console       progress lines on stdout
    capabilities  which CAPABILITY_* a template needs, read from the template
    templates     the CloudFormation templates, generated in-process, as request bodies
    stacks        one stack deployed through a change set, watched until it settles
    stack_events  stack events printed as they happen
    artifacts     model.tar.gz packed the way SageMaker mounts it; the training data
    images        image tags checked in ECR; optional docker build and push
    deploy        a stage: network -> data-and-events -> model -> application (-> delivery)
    status        what a stage runs and serves
    destroy       a stage removed, buckets and repositories included
    release       an approved model package released to the stages
    cli           the sub-commands
"""
