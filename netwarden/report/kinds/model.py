"""Model report: what a model learned from, how good it is on held-out data (metrics, confusion matrix,
ROC), and its settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from netwarden.report import charts
from netwarden.report.kinds import report_kind
from netwarden.report.render import Job, ReportError
from netwarden.store.schema_learn import models

NAME = "model"
TITLE = "Model report"
DESCRIPTION = "one model (--model NAME[:VERSION]; default: the newest active, else the newest): data, metrics, " \
              "confusion matrix, ROC"
DEFAULT_SINCE = timedelta(days=1)
TEMPLATE = "model.html"
VARIABLES = {
    "model": "name, version, algorithm, family, task, threshold, active, created, params {..}, data {..}",
    "metrics": "as measured on held-out data: rows, attacks, accuracy, precision, recall, f1, fpr, roc_auc, "
               "confusion {labels, matrix}, category {labels, matrix, per_class} (category models), "
               "train_rows, train_seconds, predictions_per_second ...",
    "charts": "SVG: confusion, roc (absent when the test data had one class only), category (category models)",
}


def _pick(job: Job) -> dict[str, Any]:
    wanted = str(job.options.get("model") or "")
    stmt = select(models).order_by(models.c.active.desc(), models.c.created.desc(), models.c.id.desc())
    if wanted:
        name, _, version = wanted.partition(":")
        stmt = select(models).where(models.c.name == name).order_by(models.c.version.desc())
        if version:
            if not version.isdigit():
                raise ReportError(f"model {wanted!r}: the version is a number (name:3)")
            stmt = stmt.where(models.c.version == int(version))
    row = job.conn.execute(stmt.limit(1)).first()
    if row is None:
        raise ReportError(f"no model {wanted!r}" if wanted else "no model has been trained yet")
    return dict(row._mapping)


@report_kind
def context(job: Job) -> dict[str, Any]:
    model = _pick(job)
    metrics = model.get("metrics") or {}
    drawn = {}
    if metrics.get("confusion"):
        drawn["confusion"] = charts.confusion(metrics["confusion"]["labels"], metrics["confusion"]["matrix"])
    if metrics.get("roc"):
        drawn["roc"] = charts.roc(metrics["roc"]["fpr"], metrics["roc"]["tpr"], metrics.get("roc_auc"))
    if metrics.get("category"):
        drawn["category"] = charts.confusion(metrics["category"]["labels"], metrics["category"]["matrix"])
    return {"title": f"Model report: {model['name']}:{model['version']}", "model": model, "metrics": metrics,
            "charts": drawn}
