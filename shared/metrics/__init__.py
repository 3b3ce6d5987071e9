"""Metrics: Prometheus `/metrics` on every service, the same figures to CloudWatch.

catalog.py   every metric, defined once (Prometheus family + CloudWatch twin)
recorder.py  `Metrics`: one service's registry (and EMF buffer); count/observe/set
emf.py       embedded-metric-format records and the buffer that aggregates them
http.py      request middleware, `/metrics` handler, EMF flusher, the gateway's
             separate metrics listener
bus.py       `ObservedConsumer`: bus lag, outcomes and dead letters of a consumer
"""
