"""Demo data for report tests: an hour of the office simulator's traffic (with attacks) through the real
pipeline (parsing, detection, incidents), a few blocks through the real responder, bad lines, and a model
row whose metrics come from the real evaluation code."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from netwarden.config import Settings
from netwarden.learn.evaluation import evaluate
from netwarden.pipeline import Pipeline
from netwarden.respond.responder import Responder
from netwarden.simulate import Simulator
from netwarden.store.database import Database
from netwarden.store.schema_learn import models

HOSTILE = "=cmd|' /C calc'!A0 <script>alert(1)</script>"


def demo_settings() -> Settings:
    settings = Settings()
    settings.ingest.timezone = "UTC"
    settings.report.timezone = "Europe/Prague"
    settings.report.organisation = "Town Hall IT"
    return settings


def fill_demo(db: Database, settings: Settings, start: datetime) -> None:
    sim = Simulator(seed=3, rate=4, attack_every=240, first_attack=60)
    lines = [e.line for e in sim.generate(start.timestamp(), 3600) if e.line]
    lines += ["\x00garbage", HOSTILE]  # quarantined: not syslog
    pipeline = Pipeline.from_settings(db, settings)
    pipeline.ingest_lines(lines, "syslog", source="demo-syslog")
    pipeline.close()
    responder = Responder.from_settings(db, settings).start(sweep=False)
    try:
        for address, reason in (("203.0.113.50", "ssh brute force"), ("198.51.100.23", HOSTILE),
                                ("203.0.113.50", "ssh brute force again")):
            responder.block(address, reason=reason, by="analyst", duration=timedelta(hours=1))
        responder.flush(15)
    finally:
        responder.close()
    rng = np.random.default_rng(1)
    truth = ["normal"] * 80 + ["attack"] * 20
    scores = np.concatenate([rng.uniform(0, 0.6, 80), rng.uniform(0.4, 1, 20)])
    predicted = ["attack" if s >= 0.5 else "normal" for s in scores]
    metrics = evaluate(truth, scores, predicted, 0.5)
    metrics.update(train_rows=400, train_seconds=1.5, predictions_per_second=25000)
    with db.engine.begin() as conn:
        conn.execute(models.insert().values(
            name="kdd-forest", version=1, algorithm="random_forest", family="supervised", task="binary",
            data={"file": "KDDTrain+.txt", "format": "nsl_kdd", "rows": 500}, params={"n_estimators": 100},
            metrics=metrics, threshold=0.5, active=True, artefact="kdd-forest/v1", digest="0" * 64,
            created=start))


def demo_start() -> datetime:
    return (datetime.now(timezone.utc) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


def pdf_text(pdf: bytes, folder: Path) -> str:
    """The PDF's text, after checking it with pdfinfo and its pages (as PNG) for being non-blank."""
    tmp_path = folder / f"pdf{len(list(folder.glob('pdf*')))}"
    tmp_path.mkdir()
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Pages:" in info and "PDF version" in info
    pages = int(info.split("Pages:")[1].split()[0])
    assert pages >= 1
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == pages
    for png in pngs:  # a page with only a header/footer would be ~99% white
        gray = Image.open(png).convert("L")
        dark = sum(gray.histogram()[:200])
        assert dark / (gray.width * gray.height) > 0.005, png.name
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())  # one space between words, as table cells come out
