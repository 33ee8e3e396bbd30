"""Charts for reports, drawn on the server as SVG with matplotlib (Agg-free SVG backend: no display, no
browser, no internet). Each function returns the SVG text; templates embed it as an image
(``<img src="{{ chart|svg_uri }}">``). Labels come from logs: matplotlib's text is not markup, and the SVG
is inserted as an image, never inline, so it cannot run script."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import matplotlib

matplotlib.use("svg")  # before pyplot: the vector backend, never a GUI one
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

INK = "#1f2937"
GRID = "#e5e7eb"
BLUE = "#2563eb"
SEVERITY_COLOURS = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#f59e0b", "low": "#0ea5e9"}
plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 8, "axes.edgecolor": GRID,
                     "axes.labelcolor": INK, "xtick.color": INK, "ytick.color": INK, "svg.fonttype": "none",
                     "svg.hashsalt": "netwarden"})  # the same input gives the same file


def _figure(width: float = 6.6, height: float = 2.2) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    return fig, ax


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _short(label: object, width: int = 28) -> str:
    text = "" if label is None else str(label)
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    text = text.replace("$", r"\$")  # matplotlib reads $...$ as mathematics
    return text if len(text) <= width else text[:width - 1] + "…"


def line(times: Sequence[datetime], values: Sequence[float], *, label: str = "events",
         previous: Sequence[float] | None = None) -> str:
    """Values over time (e.g. events per hour); ``previous``: the same points of the period before, dashed."""
    fig, ax = _figure()
    if times:
        ax.fill_between(times, values, color=BLUE, alpha=0.12, linewidth=0)
        ax.plot(times, values, color=BLUE, linewidth=1.2, label=label)
        if previous is not None and len(previous) == len(times):
            ax.plot(times, previous, color="#6b7280", linewidth=1, linestyle="--", label="previous period")
            ax.legend(frameon=False, loc="upper left")
        locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        ax.text(0.5, 0.5, "no data in this period", ha="center", va="center", transform=ax.transAxes, color="#6b7280")
    ax.set_ylabel(label)
    ax.set_ylim(bottom=0)
    return _svg(fig)


def bars(labels: Sequence[object], values: Sequence[float], *, colours: Sequence[str] | None = None,
         xlabel: str = "", width: float = 6.6) -> str:
    """Horizontal bars, the largest on top (top sources, alerts by kind ...)."""
    height = max(1.2, 0.28 * len(labels) + 0.6)
    fig, ax = _figure(width, height)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    if labels:
        positions = list(range(len(labels)))[::-1]
        ax.barh(positions, values, color=list(colours) if colours else BLUE, height=0.65)
        ax.set_yticks(positions, [_short(v) for v in labels])
        top = max(values) if values else 0
        for y, v in zip(positions, values):
            ax.text(v + top * 0.01, y, f"{v:,.0f}", va="center", fontsize=7, color=INK)
        ax.set_xlim(0, top * 1.12 or 1)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes, color="#6b7280")
    ax.set_xlabel(xlabel)
    return _svg(fig)


def severity_bars(counts: dict[str, int]) -> str:
    order = [s for s in ("critical", "high", "medium", "low")]
    return bars(order, [counts.get(s, 0) for s in order], colours=[SEVERITY_COLOURS[s] for s in order],
                xlabel="alerts", width=3.2)


def confusion(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """A confusion matrix: rows are the truth, columns the prediction, each cell with its count."""
    n = len(labels)
    size = min(6.0, 1.4 + 0.45 * n)
    fig = Figure(figsize=(size, size * 0.85))
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    top = max((max(r) for r in matrix), default=0) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, f"{value:,}", ha="center", va="center", fontsize=7,
                    color="white" if value > top / 2 else INK)
    ax.set_xticks(range(n), [_short(v, 14) for v in labels], rotation=45 if n > 3 else 0, ha="right" if n > 3 else "center")
    ax.set_yticks(range(n), [_short(v, 14) for v in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return _svg(fig)


def roc(fpr: Sequence[float], tpr: Sequence[float], auc: float | None) -> str:
    fig = Figure(figsize=(3.4, 3.0))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#9ca3af", linestyle=":", linewidth=1)
    ax.plot(fpr, tpr, color=BLUE, linewidth=1.4, label=f"AUC {auc:.3f}" if auc is not None else None)
    if auc is not None:
        ax.legend(frameon=False, loc="lower right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate (recall)")
    ax.grid(color=GRID, linewidth=0.6)
    return _svg(fig)
