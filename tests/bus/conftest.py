"""Fixtures of the scale-out tests: the real Redis on loopback (scripts/services starts it), a key prefix of
their own per test, and a PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def bus_settings() -> Iterator:  # type: ignore[type-arg]
    redis = pytest.importorskip("redis")
    from netwarden.bus.settings import BusSettings

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not running on 127.0.0.1:6379 (scripts/services starts it): {exc}")
    prefix = f"nwtest-{uuid.uuid4().hex[:10]}"
    yield BusSettings(url=REDIS_URL, prefix=prefix, partitions=4, lease_seconds=2, warm_seconds=3600,
                      batch_events=25)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))[:10_000]
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def pg_url(_engine_urls: dict[str, str]) -> str:
    """An empty PostgreSQL database (the shared store of the workers)."""
    from tests.conftest import _reset, _stop_forgotten_responders

    if "postgresql" not in _engine_urls:
        pytest.skip("PostgreSQL is not among NETWARDEN_TEST_ENGINES")
    url = _engine_urls["postgresql"]
    _stop_forgotten_responders(url)
    _reset(url)
    return url
