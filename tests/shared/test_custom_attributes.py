"""SageMaker custom attributes: what WAS writes, the model server reads back."""

from __future__ import annotations

import pytest

from shared.custom_attributes import (
    format_custom_attributes,
    request_id_attribute,
    split_custom_attributes,
)


def test_format_then_split_round_trips() -> None:
    header = format_custom_attributes({"top_k": 5, "probabilities": True, "request_id": "a.b:c"})
    assert header == "top_k=5,probabilities=true,request_id=a.b:c"
    assert split_custom_attributes(header) == [
        ("top_k", "5"),
        ("probabilities", "true"),
        ("request_id", "a.b:c"),
    ]


def test_split_accepts_semicolons_spaces_and_upper_case_keys() -> None:
    assert split_custom_attributes(" TOP_K = 3 ;; Request_ID=x ") == [
        ("top_k", "3"),
        ("request_id", "x"),
    ]


@pytest.mark.parametrize("value", ["a,b", "a;b", "a=b"])
def test_format_refuses_values_that_would_split(value: str) -> None:
    with pytest.raises(ValueError, match="contains"):
        format_custom_attributes({"request_id": value})


def test_split_names_an_entry_without_equals() -> None:
    with pytest.raises(ValueError, match="'top_k' is not key=value"):
        split_custom_attributes("top_k,request_id=x")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("top_k=3,request_id=trace-7", "trace-7"),
        ("request_id=trace-7;probabilities=true", "trace-7"),
        ("top_k=3", None),
        (None, None),
        ("", None),
        ("request_id=a/b", None),  # unsafe to log: the caller gets a fresh id
        ("request_id=" + "x" * 129, None),
        ("top_k,request_id=trace-7", None),  # malformed: the handler answers 400
        ("request_id=trace-7," + "x=1," * 300, None),  # over SageMaker's 1024 limit
    ],
)
def test_request_id_attribute(header: str | None, expected: str | None) -> None:
    assert request_id_attribute(header) == expected
