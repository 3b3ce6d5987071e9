"""The AWS emulator: a moto server with the stage's data-and-events stack deployed in it.

    prepare.py    emulator-only workarounds applied to a copy of the generated template
    server.py     the moto server subprocess (start, wait until it answers, stop)
    provision.py  deploy the prepared template through CloudFormation; check it is there
    resources.py  the names the stack creates and the settings the services need for them
    cli.py        `kkot emulator` (run it, or `--check` its readiness)

`kkot run --aws-emulator` (services/runner.py) uses the same pieces.
"""
