"""WAS: kkot's async JSON API (port 8081).

settings.py     `WasSettings` (env prefix KKOT_WAS_)
app.py          `create_app(settings, *, bus=None)`: resources in cleanup_ctx
keys.py         typed app state
routes.py       every route, named
handlers.py     thin HTTP handlers
uploads.py      multipart / raw-body parsing, filename sanitising, image checks
endpoint.py     `EndpointClient`: the model endpoint with retries, a circuit breaker
                and the error policy (which answer becomes which status)
sagemaker_runtime.py  `InvokeEndpoint` over aiohttp, signed with botocore's SigV4
                (endpoint URL and credentials resolved by botocore at start)
endpoint_payload.py   re-encoding a photo SageMaker would refuse as too large
model_info.py   what WAS knows about the deployed model (labels, catalog, version)
records.py      the stored record and its rendering into the public contract
store.py        `ClassificationStore` interface + SQLite implementation
service.py      the classification workflow (sync and background jobs, events)
openapi.py      the OpenAPI 3.1 document built from the contracts
language.py     `?lang=` / `Accept-Language` negotiation
"""
