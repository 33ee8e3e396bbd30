"""Alerts, incidents and blocks page by cursor (keyset), not by offset, on every engine: rows that share their
sort time are neither repeated nor skipped across a page's end, a row added while paging does not shift the
pages after it, a foreign cursor is a 400, and the pages (API and web) and the export hold the same rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert

from netwarden.records import Alert, Factor, Severity
from netwarden.report.export import read_csv
from netwarden.networks import parse_network
from netwarden.store.blocks import Block, insert_block, page_of_blocks
from netwarden.store import alerts as alert_store
from netwarden.store.database import Database
from netwarden.store.incidents import page_of_incidents
from netwarden.store.schema import incidents
from tests.respond.test_blocks_web import App
from tests.web.conftest import _fast_argon2  # noqa: F401 - an autouse fixture

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
# 23 rows over 6 distinct times: runs of 7, 5 and 4 rows share one, one time has microseconds
TIMES = [T0] * 7 + [T0 - timedelta(seconds=1)] * 5 + [T0 + timedelta(microseconds=250)] * 4 + \
        [T0 - timedelta(minutes=i) for i in range(2, 9)]


def _alert(i: int, when: datetime) -> Alert:
    return Alert(kind="port_scan", subkind="tcp", severity=Severity.LOW, confidence=0.5,
                 factors=[Factor("count", 0.5, "many")], source=f"198.51.100.{i + 1}", target="10.0.0.1",
                 first_seen=when - timedelta(minutes=1), last_seen=when, count=1, evidence={}, recommendation="",
                 detector="port_scan", signature=f"s{i}")


def fill(db: Database) -> dict[str, list[int]]:
    """The same times for each list, inserted out of time order; each list's ids in newest-first order."""
    order = sorted(range(len(TIMES)), key=lambda i: (i * 7) % len(TIMES))  # a shuffled insertion order
    made: dict[str, list[tuple[datetime, int]]] = {"alerts": [], "incidents": [], "blocks": []}
    with db.engine.begin() as conn:
        for i in order:
            when = TIMES[i]
            made["alerts"].append((when, alert_store.save_alert(conn, _alert(i, when))))
            made["incidents"].append((when, int(conn.execute(insert(incidents).values(
                source=f"198.51.100.{i + 1}", severity="low", status="open", kinds=["port_scan"], alert_count=1,
                summary="s", first_seen=when - timedelta(minutes=1), last_seen=when)).inserted_primary_key[0])))
            block = insert_block(conn, Block(network=f"203.0.113.{i + 1}", reason="r", backend="none",
                                             mode="dry-run", created_by="auto", created=when, expires=None),
                                 parse_network(f"203.0.113.{i + 1}"))
            made["blocks"].append((when, int(block.id or 0)))
    return {name: [ident for _, ident in sorted(rows, reverse=True)] for name, rows in made.items()}


def _walk(fetch: Any, limit: int) -> Iterator[list[int]]:
    cursor = None
    for _ in range(100):
        ids, cursor = fetch(limit, cursor)
        yield ids
        if cursor is None:
            return
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("limit", [1, 3, 5, 7, 23, 50])
def test_store_pages_follow_time_then_id_across_ties(db: Database, limit: int) -> None:
    want = fill(db)
    with db.engine.connect() as conn:
        def alerts(n: int, cursor: str | None) -> tuple[list[int], str | None]:
            found, following = alert_store.page_of_alerts(conn, alert_store.AlertFilter(), limit=n, cursor=cursor)
            return [int(a.id or 0) for a in found], following

        def incident_ids(n: int, cursor: str | None) -> tuple[list[int], str | None]:
            total, rows, following = page_of_incidents(conn, limit=n, cursor=cursor)
            assert total == len(TIMES)
            return [r["id"] for r in rows], following

        def blocks(n: int, cursor: str | None) -> tuple[list[int], str | None]:
            found, following = page_of_blocks(conn, limit=n, cursor=cursor)
            return [int(b.id or 0) for b in found], following

        for name, fetch in (("alerts", alerts), ("incidents", incident_ids), ("blocks", blocks)):
            pages = list(_walk(fetch, limit))
            assert [i for p in pages for i in p] == want[name], name
            assert all(len(p) == limit for p in pages[:-1]) and 0 < len(pages[-1]) <= limit, name


def test_a_row_added_while_paging_does_not_shift_the_next_page(db: Database) -> None:
    want = fill(db)["alerts"]
    with db.engine.connect() as conn:
        first, cursor = alert_store.page_of_alerts(conn, alert_store.AlertFilter(), limit=5)
    with db.engine.begin() as conn:  # newer than every row: an offset would now repeat the first page's last
        alert_store.save_alert(conn, _alert(99, T0 + timedelta(hours=1)))
    with db.engine.connect() as conn:
        second, _ = alert_store.page_of_alerts(conn, alert_store.AlertFilter(), limit=5, cursor=cursor)
    assert [a.id for a in first + second] == want[:10]


def _api_pages(client: Any, path: str, key: str, **params: Any) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    for _ in range(100):
        answer = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        pages.append(answer.json()[key])
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the pages never ended")


@pytest.fixture
def web(db: Database) -> Iterator[App]:
    app = App(db)
    yield app
    app.close()


def test_api_and_web_pages_and_exports_hold_the_same_rows(web: App) -> None:
    want = fill(web.db)
    viewer = web.client("viewer")
    for path, key, extra in (("/api/v1/alerts", "alerts", {}), ("/api/v1/incidents", "incidents", {}),
                             ("/api/v1/blocks", "blocks", {"state": "all"})):
        pages = _api_pages(viewer, path, key, limit=4, **extra)
        listed = [r["id"] for p in pages for r in p]
        assert listed == want[key] and len(pages) == 6, key
        exported = read_csv(viewer.get(path, params={**extra, "format": "csv"}).content)
        assert [int(r["id"]) for r in exported] == want[key], key
        bad = viewer.get(path, params={**extra, "cursor": "bm90IG1pbmU"})
        assert bad.status_code == 400 and "cursor" in bad.json()["detail"], key



def test_web_pages_follow_the_cursor(web: App, monkeypatch: pytest.MonkeyPatch) -> None:
    import netwarden.web.pages.alerts as alerts_page
    import netwarden.web.pages.blocks as blocks_page
    import netwarden.web.pages.incidents as incidents_page
    want = fill(web.db)
    for module in (alerts_page, blocks_page, incidents_page):
        monkeypatch.setattr(module, "PAGE", 5)  # a page size that splits the runs of equal times
    viewer = web.client("viewer")
    for path, name in (("/alerts", "alerts"), ("/incidents", "incidents"), ("/blocks?state=all", "blocks")):
        seen: list[int] = []
        url = path
        for page in range(10):
            html = viewer.get(url).text
            assert (f'id="{name}-first"' in html) == (page > 0), name
            seen += [int(i) for i in re.findall(r'<tr[^>]* data-id="(\d+)"', html)]
            if f'id="{name}-next"' not in html:
                break
            url = html.split(f'id="{name}-next" href="')[1].split('"')[0].replace("&amp;", "&")
        assert seen == want[name], name
