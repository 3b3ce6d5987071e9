"""Pydantic v2 contracts: the only wire format between kkot's services.

- `errors`: the one error body.
- `model`: the model artifact's metadata, preprocessing and label catalog.
- `prediction`: what the model endpoint accepts and answers.
- `classification`: WAS's public API (records, feedback, the tutorial's shape).
- `events`: the event envelope and typed event payloads.
"""
