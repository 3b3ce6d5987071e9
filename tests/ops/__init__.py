"""Tests of the AWS operator commands (`kkot aws ...`, `kkot release model`)."""
