"""The AWS emulator: a moto server with the stage's data-and-events stack deployed in it.

    prepare.py    emulator-only workarounds applied to a copy of any generated template
    server.py     the moto server subprocess (start, wait until it answers, stop)
    provision.py  deploy the prepared template through CloudFormation; check it is there
    resources.py  the names the stack creates and the settings the services need for
                  them; moto's account, region and the dummy credentials
    cli.py        `kkot emulator` (run it, or `--check` its readiness)

`kkot run --aws-emulator` (services/runner.py) uses the same pieces, and so do the
tests: their moto servers come from server.py, and tests/ops prepares every template
the operator commands send with prepare.py.
"""
