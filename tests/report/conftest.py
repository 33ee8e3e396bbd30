"""The notification tests' real SMTP server (aiosmtpd with STARTTLS and a login), for e-mailed reports, and the
demo database every report test renders from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from netwarden.report.data import Period
from netwarden.store.database import Database
from tests.notify.conftest import certificate, smtp_starttls  # noqa: F401 - fixtures
from tests.report.demo import demo_settings, demo_start, fill_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, object, Period]]:
    db = Database.open(f"sqlite:///{tmp_path_factory.mktemp('reports') / 'demo.db'}")
    settings = demo_settings()
    fill_demo(db, settings, demo_start())
    now = datetime.now(timezone.utc)
    yield db, settings, Period(now - timedelta(days=1), now, settings.site_tz())
    db.close()
