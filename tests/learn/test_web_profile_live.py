"""http_profile at work: as the ml detector (alerts explained in sentences), inside web_attack alerts (the
anomaly score next to the signature), and in `netwarden evaluate --detector ml`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netwarden.cli import cli
from netwarden.config import load_settings
from netwarden.learn import data
from netwarden.learn.base import create
from netwarden.learn.registry import open_registry
from netwarden.pipeline import Pipeline
from netwarden.store.alerts import AlertFilter, find_alerts
from netwarden.store.database import Database

pytestmark = pytest.mark.datasets


@pytest.fixture
def site(tmp_path: Path, datasets: Path):  # type: ignore[no-untyped-def]
    events = data.load_file(datasets / "csic-2010" / "normalTrafficTraining.txt.gz", limit=3_000).events
    model = create("http_profile").fit(events)
    settings = load_settings(environ={})
    settings.database.url = f"sqlite:///{tmp_path / 'nw.db'}"
    db = Database.open(settings.database.url)
    registry = open_registry(db, settings)
    registry.activate(registry.add(model, name="shop", data={}, metrics={}).ref)
    log = tmp_path / "access.log"
    line = '{ip} - - [04/Dec/2026:10:00:{s:02d} +0000] "{r} HTTP/1.1" 200 900 "-" "Mozilla/5.0"'
    requests = ["GET /tienda1/publico/anadir.jsp?id=2&nombre=Vino+Rioja&precio=85&cantidad=49&B1=A%F1adir+al+carrito",
                "GET /tienda1/index.jsp"] * 5
    requests += ["GET /tienda1/publico/anadir.jsp?id=2&nombre=Vino+Rioja&precioA=85&cantidad=49&B1=A%F1adir+al+carrito",
                 "GET /tienda1/publico/anadir.jsp?id=2%27%20OR%20%271%27%3D%271&nombre=Vino&precio=85&cantidad=4&B1=x"]
    log.write_text("\n".join(line.format(s=i, r=r, ip="203.0.113.9" if i >= 10 else f"198.51.100.{i}")
                             for i, r in enumerate(requests)) + "\n")
    yield tmp_path, settings, db, log
    db.close()


def _alerts(db: Database, kind: str):  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return find_alerts(conn, AlertFilter(kind=kind), limit=100)


def test_alerts_explain_in_words_and_signatures_carry_the_anomaly(site) -> None:  # type: ignore[no-untyped-def]
    tmp, settings, db, log = site
    pipeline = Pipeline.from_settings(db, settings)
    pipeline.ingest_file(log)
    pipeline.close()
    ml = _alerts(db, "ml")
    assert len(ml) == 1 and ml[0].count == 2  # the two odd requests, not the ten ordinary ones
    details = " | ".join(f.detail for f in ml[0].factors)
    assert "value of `id` has 12 characters, normal ≤ 1" in details  # the strongest of the two, in words
    web = _alerts(db, "web_attack")
    assert web and web[0].subkind == "sqli"
    anomaly = [f for f in web[0].factors if f.name == "anomaly"]
    assert anomaly and "model shop:1: unusual for this site" in anomaly[0].detail and anomaly[0].weight > 0
    assert web[0].evidence["anomaly"]["shop:1"] >= 0.99


def test_evaluate_runs_the_active_models_when_asked(site) -> None:  # type: ignore[no-untyped-def]
    tmp, settings, db, log = site
    labelled = tmp / "labelled.jsonl"
    events = data.load_file(log).events
    with labelled.open("w") as fh:
        for i, e in enumerate(events):
            e.label = "normal" if i < 10 else "web-attack"
            fh.write(json.dumps(e.to_dict()) + "\n")
    url = settings.database.url
    result = CliRunner().invoke(cli, ["--db", url, "evaluate", str(labelled), "--detector", "ml", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["kind"]: r for r in json.loads(result.output)["kinds"]}
    assert rows["any"]["tp"] == 2 and rows["any"]["fp"] == 0
    empty = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp / 'other.db'}", "evaluate", str(labelled),
                                     "--detector", "ml"])
    assert empty.exit_code == 2 and "no active model" in empty.output
