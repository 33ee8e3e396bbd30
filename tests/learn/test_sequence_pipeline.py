"""An LSTM over access-log windows, trained, stored, activated, and judging what the pipeline ingests.

Normal traffic is the real Apache log (web-access-logs/apache_logs.gz: everything in it counts as normal,
its crawlers included); the attackers are scanners written as combined-format lines, each probing a shuffled
list of well-known paths at its own pace with a browser's user agent (so the agent alone gives nothing
away; the scanner the model must catch uses a browser no training scanner used).
"""

from __future__ import annotations

import gzip
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from netwarden.config import load_settings
from netwarden.learn.base import create
from netwarden.learn.sequence import ENABLE_HINT
from netwarden.learn.registry import open_registry
from netwarden.parse import ParseContext, get_parser
from netwarden.pipeline import Pipeline
from netwarden.store.alerts import AlertFilter, find_alerts
from netwarden.store.database import Database

pytest.importorskip("torch", reason=ENABLE_HINT)  # the optional "sequence" extra

PROBES = ["/wp-login.php", "/.env", "/phpmyadmin/index.php", "/admin/config.php", "/cgi-bin/test.cgi",
          "/.git/config", "/index.php?id=1%27%20OR%20%271%27=%271", "/../../etc/passwd", "/backup.zip",
          "/server-status", "/xmlrpc.php", "/wp-content/plugins/revslider/temp/update.zip",
          "/shell.php?cmd=id",
          "/manager/html", "/solr/admin/info/system", "/actuator/env", "/config.json", "/.aws/credentials",
          "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/boaform/admin/formLogin"]
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
          "Mozilla/5.0 (Windows NT 6.1; rv:109.0) Gecko/20100101 Firefox/115.0"]
NEW_AGENT = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"  # not trained on


def scanner(ip: str, start: datetime, requests: int, rng: random.Random, agent: str = "") -> list[str]:
    lines, t, agent = [], start, agent or rng.choice(AGENTS)
    for n in range(requests):
        path = rng.choice(PROBES) if n else "/"
        status = 200 if path == "/" else rng.choice([404, 404, 404, 403, 400])
        t += timedelta(seconds=rng.uniform(0.2, 3.0))
        lines.append(f'{ip} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] "GET {path} HTTP/1.1" {status} '
                     f'{rng.randint(150, 600)} "-" "{agent}"')
    return lines


@pytest.fixture(scope="module")
def real_log(datasets: Path) -> list[str]:
    with gzip.open(datasets / "web-access-logs" / "apache_logs.gz", "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def test_lstm_on_access_logs_alerts_on_a_new_scanner_through_the_pipeline(real_log, tmp_path):
    rng = random.Random(5)
    parser = get_parser("access_log")(ParseContext())
    start = datetime(2015, 5, 18, 12, 0, tzinfo=timezone.utc)
    attack_lines = [line for k in range(12) for line in
                    scanner(f"198.51.100.{k + 1}", start + timedelta(hours=k), rng.randint(15, 40), rng)]
    train = [parser.parse_line(line) for line in real_log[:6000] + attack_lines]
    labels = ["attack" if e.src_ip.startswith("198.51.100.") else "normal" for e in train]
    model = create("lstm", timesteps=8, epochs=6, hidden_size=24).fit(train, labels)
    assert model.encoder_.kind == "access_log"

    settings = load_settings(environ={})
    settings.database.url = f"sqlite:///{tmp_path / 'nw.db'}"
    db = Database.open(settings.database.url)
    registry = open_registry(db, settings)
    registry.activate(registry.add(model, name="web-lstm", data={}, metrics={}).ref)
    # later traffic: real clients the model never saw, and a new scanner with its own pace and path order
    later = datetime(2015, 5, 20, 23, 0, tzinfo=timezone.utc)
    newcomer = scanner("203.0.113.66", later, 30, random.Random(9), NEW_AGENT)
    (tmp_path / "later.log").write_text("\n".join(real_log[6000:] + newcomer) + "\n")
    pipeline = Pipeline.from_settings(db, settings)
    pipeline.ingest_file(tmp_path / "later.log")
    pipeline.close()
    with db.engine.connect() as conn:
        alerts = find_alerts(conn, AlertFilter(kind="ml"), limit=1000)
    db.close()

    by_source = {a.source: a for a in alerts}
    assert "203.0.113.66" in by_source
    alert = by_source["203.0.113.66"]
    # most of its 30 requests (with the agent's hash bucket always visible in training, the model learnt the
    # training scanners' agents and caught 10 to 20, depending on which bucket the new agent fell in)
    assert alert.model_version == "web-lstm:1" and alert.count >= 20
    named = {c["feature"] for c in alert.evidence["explanation"]}
    assert named and named <= set(model.features_)
    clients = {line.split(" ", 1)[0] for line in real_log[6000:]}
    false_alarms = set(by_source) - {"203.0.113.66"}
    assert len(false_alarms) <= 0.05 * len(clients)  # real clients flagged: a few at most

    # a live stream hands the detector tiny batches: each source's earlier events are carried across them,
    # so one request at a time is judged with the same window as the whole file (the newcomer still caught)
    live_settings = load_settings(environ={})
    live_settings.database.url = f"sqlite:///{tmp_path / 'live.db'}"
    live_db = Database.open(live_settings.database.url)
    live_registry = open_registry(live_db, live_settings)
    live_registry.activate(live_registry.add(model, name="web-lstm", data={}, metrics={}).ref)
    (tmp_path / "live.log").write_text("\n".join(real_log[6000:6200] + newcomer) + "\n")
    live = Pipeline.from_settings(live_db, live_settings, batch_size=1)
    live.ingest_file(tmp_path / "live.log")
    live.close()
    with live_db.engine.connect() as conn:
        streamed = {a.source: a for a in find_alerts(conn, AlertFilter(kind="ml"), limit=1000)}
    live_db.close()
    assert "203.0.113.66" in streamed and streamed["203.0.113.66"].count >= 20
