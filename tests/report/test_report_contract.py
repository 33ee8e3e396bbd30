"""The report kind contract, checked for EVERY registered kind (parametrised over ``REPORTS``): on the demo
data (an office hour with attacks through the real pipeline, blocks, a trained model) and over the kind's
own default period, its template renders to a PDF that pdfinfo reads, with pages that are not blank, whose
text holds the report's title; the hostile log line in the data never reaches the HTML unescaped."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.report.data import Period
from netwarden.report.kinds import REPORTS
from netwarden.report.render import generate
from tests.report.demo import pdf_text


@pytest.mark.parametrize("name", REPORTS.names())
def test_every_kind_renders_its_title_to_a_pdf(demo, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, settings, period = demo
    kind = REPORTS.get(name)
    own = Period(period.until - kind.DEFAULT_SINCE, period.until, period.zone)
    with db.engine.connect() as conn:
        report = generate(conn, settings, name, own)
    assert report.kind == name and report.title
    assert report.pdf.startswith(b"%PDF-") and len(report.pdf) > 1000
    assert report.title in pdf_text(report.pdf, tmp_path)
    assert "<script>alert" not in report.html
