"""`kkot ci ...`: the steps of the CodeBuild projects (ci/*.yml) as tested commands.

The buildspecs only call these; what they decide (which image is already pushed, what
the deploy actions read, the baseline accuracy a new model must reach) is Python with
tests against a moto server (tests/ci), not shell."""
