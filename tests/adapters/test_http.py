"""adapters/http.py: how every webhook reads a body and the types of its fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.exceptions import HTTPException

from adapters.http import MAX_DEPTH, Malformed, OneOf, Required, Shape, conform, json_body

SHAPE: Shape = {
    "id": Required(int),
    "name": str,
    "user": OneOf(str, {"id": Required(str)}),
    "tags": [str],
    "nested": {"flag": bool},
}


@pytest.mark.parametrize(
    "value",
    [
        {"id": 1},
        {"id": 1, "name": "Ada", "user": "U1", "tags": [], "nested": {"flag": False}},
        {"id": 1, "user": {"id": "U1", "other": [1, 2]}, "unknown": {"anything": None}},
        {"id": 1, "name": None, "user": None},  # null is as good as absent
    ],
)
def test_what_has_the_shape_passes(value: Any) -> None:
    conform(value, SHAPE)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ([], "payload is not an object"),
        ({}, "payload.id is missing"),
        ({"id": "1"}, "payload.id has the wrong type"),
        ({"id": True}, "payload.id has the wrong type"),  # a bool is no number here
        ({"id": 1, "name": 5}, "payload.name has the wrong type"),
        ({"id": 1, "user": 5}, "payload.user has the wrong type"),
        ({"id": 1, "user": {"id": 5}}, "payload.user has the wrong type"),
        ({"id": 1, "tags": "a"}, "payload.tags is not a list"),
        ({"id": 1, "tags": ["a", 1]}, "payload.tags[1] has the wrong type"),
        ({"id": 1, "nested": {"flag": "yes"}}, "payload.nested.flag has the wrong type"),
    ],
)
def test_a_wrong_type_is_malformed_and_says_where(value: Any, where: str) -> None:
    with pytest.raises(Malformed) as refused:
        conform(value, SHAPE, "payload")
    assert str(refused.value) == where


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the body is not JSON"),
        (b"\xff\xfe\x00", "the body is not JSON"),
        (b'{"a": ', "the body is not JSON"),
        (_nested(MAX_DEPTH + 1), "nested deeper than 32 levels"),
        (_nested(900), "nested deeper than 32 levels"),
        (_nested(100_000), "nested deeper than 32 levels"),  # deeper than Python recurses
    ],
)
def test_json_body_refuses_with_400(body: bytes, reason: str) -> None:
    with pytest.raises(HTTPException) as refused:
        json_body("slack", body)
    assert refused.value.status_code == 400
    assert reason in refused.value.detail and refused.value.detail.startswith("slack: ")


def test_json_body_reads_json_as_deep_as_platforms_send() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH - 1):
        deep = {"a": [deep]} if isinstance(deep, str) else [deep]
    assert json_body("zulip", json.dumps(deep).encode()) == deep
    assert json_body("zulip", '{"é": "ü"}') == {"é": "ü"}
