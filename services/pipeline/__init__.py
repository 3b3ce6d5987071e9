"""The ML pipeline: validate -> train -> evaluate -> condition -> register -> deploy.

registry/   model versions with approval status, metrics and lineage
deploy      swap the served model (POST /admin/model), smoke test, rollback
smoke       classify the artifact's smoke set through the endpoint (aioboto3)
run         `kkot pipeline run`: the whole pipeline, step by step
feedback    export WAS's corrected examples as an image folder
cli         `kkot pipeline ...`, `kkot models ...`, `kkot train`
"""
