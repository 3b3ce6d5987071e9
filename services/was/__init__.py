"""WAS: kkot's async JSON API (port 8081).

settings.py     `WasSettings` (env prefix KKOT_WAS_)
app.py          `create_app(settings, *, bus=None)`: resources in cleanup_ctx
keys.py         typed app state
routes.py       every route, named
handlers.py     thin HTTP handlers
uploads.py      multipart / raw-body parsing, filename sanitising, image checks
endpoint.py     the model endpoint through aioboto3 `sagemaker-runtime`, with
                retries and a circuit breaker
model_info.py   what WAS knows about the deployed model (labels, catalog, version)
records.py      the stored record and its rendering into the public contract
store.py        `ClassificationStore` interface + SQLite implementation
service.py      the classification workflow (sync and background jobs, events)
openapi.py      the OpenAPI 3.1 document built from the contracts
language.py     `?lang=` / `Accept-Language` negotiation
"""
