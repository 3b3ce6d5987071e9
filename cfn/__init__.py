"""CloudFormation for kkot, generated with troposphere.

`generate-templates --out DIR` writes one template per stack (see `cfn.stacks.STACKS`
for the deployment order). Each stack takes a `Stage` parameter so staging and
production live side by side; stacks hand values to each other only through
stage-prefixed exports (`kkot-<stage>-<stack>-<Key>`).
"""
