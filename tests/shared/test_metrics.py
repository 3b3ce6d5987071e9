"""`shared.metrics`: one registry per service, Prometheus text and EMF records from the
same recordings, bus consumers' lag, outcomes and dead letters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.contracts.events import ClassificationRequested, Event, EventType
from shared.events import MemoryEventBus
from shared.metrics.bus import ObservedConsumer
from shared.metrics.catalog import (
    BUS_METRICS,
    CATALOG,
    DIMENSION_NAMES,
    HTTP_DURATION,
    HTTP_METRICS,
    HTTP_REQUESTS,
    MODEL_INFO,
    MODEL_METRICS,
)
from shared.metrics.emf import MAX_VALUES, EmfBuffer
from shared.metrics.http import emit_to_stdout
from shared.metrics.recorder import Metrics
from shared.resilience import RetryPolicy
from tests.emf_spec import assert_valid_emf, emf_records
from tests.prometheus_text import value

OK = {"route": "/api/v1/classifications/{id}", "method": "GET", "status": "200"}
FAILED = {**OK, "status": "503"}


def _text(metrics: Metrics) -> str:
    return metrics.exposition().decode()


def test_services_in_one_process_keep_separate_registries() -> None:
    gateway = Metrics("gateway", HTTP_METRICS)
    was = Metrics("was", (*HTTP_METRICS, *BUS_METRICS))
    for _ in range(3):
        gateway.count(HTTP_REQUESTS, OK)
    was.count(HTTP_REQUESTS, OK)
    assert value(_text(gateway), "kkot_http_requests_total", OK) == 3
    assert value(_text(was), "kkot_http_requests_total", OK) == 1


def test_every_label_has_a_cloudwatch_dimension_name() -> None:
    for definition in CATALOG:
        assert set(definition.labels) <= set(DIMENSION_NAMES), definition.name
        if definition.cloudwatch is not None:
            for dimension_set in definition.cloudwatch.dimension_sets:
                assert dimension_set[0] == "service", definition.name
                assert set(dimension_set) <= {"service", "status_class", *definition.labels}


def test_emf_records_are_valid_and_say_what_prometheus_says() -> None:
    records: list[dict[str, Any]] = []
    metrics = Metrics("was", HTTP_METRICS, emf=EmfBuffer("was", "kkot/staging", records.append))
    for seconds in (0.01, 0.02, 0.03):
        metrics.count(HTTP_REQUESTS, OK)
        metrics.observe(HTTP_DURATION, OK, seconds)
    metrics.count(HTTP_REQUESTS, FAILED)
    metrics.observe(HTTP_DURATION, FAILED, 0.5)
    assert metrics.emf is not None and metrics.emf.flush() == 2

    for record in records:
        assert_valid_emf(record)
    by_status = {r["Status"]: r for r in records}
    ok, failed = by_status["200"], by_status["503"]
    assert ok["Requests"] == value(_text(metrics), "kkot_http_requests_total", OK) == 3
    assert ok["Latency"] == [0.01, 0.02, 0.03]
    assert (ok["Service"], ok["StatusClass"], failed["StatusClass"]) == ("was", "2xx", "5xx")
    assert ok["Route"] == "/api/v1/classifications/{id}"
    (directive,) = ok["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "kkot/staging"
    assert ["Service", "StatusClass"] in directive["Dimensions"]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "Requests": "Count",
        "Latency": "Seconds",
    }
    # Flushed: nothing is sent twice.
    assert metrics.emf.take() == []


def test_a_series_is_written_early_when_it_holds_the_most_values_emf_allows() -> None:
    records: list[dict[str, Any]] = []
    metrics = Metrics("gateway", HTTP_METRICS, emf=EmfBuffer("gateway", "kkot", records.append))
    for n in range(2 * MAX_VALUES + 50):
        metrics.count(HTTP_REQUESTS, OK)
        metrics.observe(HTTP_DURATION, OK, n / 1000)
    assert len(records) == 2  # two full series went out without waiting for the flush
    assert metrics.emf is not None
    records.extend(metrics.emf.take())
    for record in records:
        assert_valid_emf(record)
    assert sum(r["Requests"] for r in records) == 2 * MAX_VALUES + 50
    assert sum(len(r["Latency"]) for r in records) == 2 * MAX_VALUES + 50


def test_emf_records_are_whole_json_lines_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    emf = EmfBuffer("model", "kkot/production", emit_to_stdout)
    metrics = Metrics("model", MODEL_METRICS, emf=emf)
    labels = {"model_version": "7"}
    for definition in MODEL_METRICS[:3]:
        metrics.observe(definition, labels, 2)
    assert metrics.emf is not None and metrics.emf.flush() == 1
    (record,) = emf_records(capsys.readouterr().out)
    assert_valid_emf(record)
    assert (record["Service"], record["ModelVersion"]) == ("model", "7")
    assert record["BatchSize"] == [2] and record["QueueWait"] == [2]


def test_the_model_info_gauge_names_only_the_current_version() -> None:
    metrics = Metrics("model", MODEL_METRICS)
    metrics.set_info(MODEL_INFO, {"model": "flowers", "model_version": "1"})
    metrics.set_info(MODEL_INFO, {"model": "flowers", "model_version": "2"})
    text = _text(metrics)
    assert value(text, "kkot_model_info", {"model_version": "2"}) == 1
    assert 'model_version="1"' not in text


def _requested(n: int) -> Event:
    return Event(
        type=EventType.CLASSIFICATION_REQUESTED,
        source="kkot.was",
        data=ClassificationRequested(
            classification_id=f"c{n}", image_key=f"images/c{n}.jpg", content_type="image/jpeg"
        ),
    )


async def test_a_consumer_reports_lag_outcomes_and_dead_letters() -> None:
    metrics = Metrics("was", BUS_METRICS)
    bus = MemoryEventBus(retry_policy=RetryPolicy(max_attempts=2, base_delay=0.001))
    await bus.start()

    async def handle(event: Event) -> None:
        if event.data.classification_id == "c2":  # type: ignore[union-attr]
            raise RuntimeError("broken")

    consumer = "was-classifier"
    await bus.subscribe(
        consumer, [EventType.CLASSIFICATION_REQUESTED], ObservedConsumer(metrics, consumer, handle)
    )
    try:
        for n in (1, 2, 3):
            await bus.publish(_requested(n))
        async with asyncio.timeout(10):
            await bus.drain()
    finally:
        await bus.close()
    text = _text(metrics)
    kind = {"consumer": consumer, "event_type": "classification.requested"}
    assert value(text, "kkot_bus_events_total", {**kind, "outcome": "ok"}) == 2
    assert value(text, "kkot_bus_events_total", {**kind, "outcome": "error"}) == 2  # 2 tries
    assert value(text, "kkot_bus_dead_letters_total", kind) == 1
    assert value(text, "kkot_bus_delivery_lag_seconds_count", kind) == 4
    assert 0 <= value(text, "kkot_bus_delivery_lag_seconds_sum", kind) < 10
