"""What the ``netwarden model`` commands share: the registry they open, and how a model's figures are printed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netwarden.commands.shared.context import Context
from netwarden.commands.shared.terminal import out, plain_table, safe

if TYPE_CHECKING:
    from netwarden.learn.registry import ModelRegistry
    from netwarden.store.database import Database


def open_lab(obj: Context) -> tuple[Database, ModelRegistry]:
    from netwarden.learn.registry import open_registry

    db = obj.database()
    return db, open_registry(db, obj.settings)


def print_metrics(m: dict[str, Any]) -> None:
    if "accuracy" not in m:
        out.print(f"test rows: {m.get('rows', 0):,}, flagged: {m.get('flagged', 0):.2%} (no labels to score)")
    else:
        auc = f"{m['roc_auc']:.4f}" if m.get("roc_auc") is not None else "n/a"
        out.print(f"accuracy {m['accuracy']:.4f}  precision {m['precision']:.4f}  recall {m['recall']:.4f}  "
                  f"F1 {m['f1']:.4f}  FPR {m['fpr']:.4f}  ROC AUC {auc}  (threshold {m['threshold']:.3f})")
        print_matrix(m["confusion"]["labels"], m["confusion"]["matrix"])
        if "category" in m:
            c = m["category"]
            out.print(f"per category: accuracy {c['accuracy']:.4f}, macro F1 {c['macro_f1']:.4f}")
            print_matrix(c["labels"], c["matrix"])
    trained = f"training {m['train_seconds']:.2f} s on {m.get('train_rows', 0):,} rows; " if "train_seconds" in m else ""
    out.print(f"{trained}testing {m.get('predict_seconds', 0):.3f} s ({m.get('predictions_per_second') or 0:,} "
              "rows/s)")


def print_matrix(labels: list[str], matrix: list[list[int]]) -> None:
    table = plain_table()
    table.add_column("true \\ predicted")
    for label in labels:
        table.add_column(safe(label), justify="right")
    for label, row in zip(labels, matrix):
        table.add_row(safe(label), *(f"{v:,}" for v in row))
    out.print(table)



def print_by_label(by_label: dict[str, Any]) -> None:
    if not by_label:
        return
    table = plain_table()
    for column in ("label", "rows", "flagged (recall for attacks, FPR for normal)"):
        table.add_column(column, justify="right" if column != "label" else "left")
    for label, v in by_label.items():
        table.add_row(safe(label), f"{v['rows']:,}", f"{v['flagged']:.2%}")
    out.print(table)
