"""The events list, alerts list and host data answered past FastAPI's routing (netwarden.web.hot_routes) are the
app's own answers: the same status, headers and body for good requests, bad values, downloads, callers without a
login or with a bad token; and the short path is the one taken for a viewer's plain request."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from netwarden.store.database import Database
from netwarden.web import hot_routes
from netwarden.web.app import create_app
from tests.web.conftest import make_settings
from tests.web.conftest import _fast_argon2  # noqa: F401 - an autouse fixture
from tests.web.test_readers import PATHS, _timeless, database  # noqa: F401 - a fixture

REAL_ANSWER = hot_routes._answer
MORE = ["/api/v1/events?cursor=not-a-cursor", "/api/v1/alerts?cursor=x", "/api/v1/hosts/not-an-address",
        "/api/v1/events?port=70000", "/api/v1/hosts/10.0.0.7?days=0", "/api/v1/events?format=csv&limit=3",
        "/api/v1/alerts?format=jsonl", "/api/v1/hosts/", "/api/v1/hosts/a%2Fb"]


def _answers(url: str, headers: dict[str, str], short: bool, monkeypatch: pytest.MonkeyPatch,
             taken: list[str]) -> list[tuple[int, list[tuple[str, str]], object]]:
    original = REAL_ANSWER

    async def counted(request, path):  # type: ignore[no-untyped-def]
        answer = await original(request, path) if short else None
        if answer is not None:
            taken.append(str(request.url))
        return answer

    monkeypatch.setattr(hot_routes, "_answer", counted)
    db = Database.open(url)
    try:
        with TestClient(create_app(make_settings(), db)) as client:
            out = []
            for path in PATHS + MORE:
                r = client.get(path, headers={**headers, "Cache-Control": "no-cache"})
                body = _timeless(r.json()) if r.headers.get("content-type", "").startswith("application/json") else r.text
                # a download's name carries the second it was made
                named = [(k, re.sub(r"\d{8}-\d{6}", "TIME", v)) for k, v in r.headers.items()]
                out.append((r.status_code, sorted(named), body))
            return out
    finally:
        db.close()


@pytest.mark.parametrize("who", ["token", "no login", "bad token"])
def test_short_path_answers_as_the_app(database: tuple[str, str], who: str,  # noqa: F811
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url, token = database
    headers = {"token": {"Authorization": f"Bearer {token}"}, "no login": {},
               "bad token": {"Authorization": "Bearer nwt_nope"}}[who]
    taken: list[str] = []
    short = _answers(url, headers, True, monkeypatch, taken)
    app = _answers(url, headers, False, monkeypatch, [])
    for path, a, b in zip(PATHS + MORE, short, app):
        if a != b:  # a host's window moves with the clock: once more, the app's answer last
            a, b = _answers(url, headers, True, monkeypatch, [])[(PATHS + MORE).index(path)], \
                _answers(url, headers, False, monkeypatch, [])[(PATHS + MORE).index(path)]
        assert a == b, path
    if who == "token":
        assert sorted(t.split("testserver", 1)[1] for t in taken) == sorted(PATHS)  # the good ones, no other
        assert {s for s, _, _ in short[len(PATHS):]} == {200, 400, 404, 422}
    else:
        assert taken == [] and {s for s, _, _ in short[:len(PATHS)]} == {401}
