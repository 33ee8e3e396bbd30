"""An alert's evidence is cleaned for storage in C when it can (``clean_evidence``): the result is the Python
walk's (``_clean_json``) for everything attackers can put in it."""

from __future__ import annotations

import json

import pytest

from netwarden.store.alerts import clean_evidence
from netwarden.store.events import _clean_json

CASES = [
    {"samples": [{"raw": "GET /?q=1%27 HTTP/1.1", "src_ip": "203.0.113.7", "user": None, "http_status": 404}],
     "payloads": ["sqli", "xss"], "ratio": 0.25, "nested": {"tuple": (1, "x"), "empty": [], "flag": True}},
    {"raw": "a\x00b"},  # PostgreSQL refuses NUL
    {"raw": "\ud800 lone surrogate"},  # no encoder accepts it
    {"k\x00ey": 1},
    {"score": float("nan")},  # not JSON
    {1: "a key that is not text"},
    {"user": "ünïcödé ☃ 用户"},
    {"big": 2**70},
]


@pytest.mark.parametrize("evidence", CASES, ids=range(len(CASES)))
def test_clean_evidence_is_the_python_walk(evidence) -> None:  # type: ignore[no-untyped-def]
    fast, slow = clean_evidence(evidence), _clean_json(evidence)
    assert json.dumps(fast, sort_keys=True) == json.dumps(slow, sort_keys=True)


def test_infinity_becomes_null_not_invalid_json() -> None:
    assert json.dumps(clean_evidence({"rate": float("inf")})) == '{"rate": null}'
