"""Report kinds, one module each, registered in ``REPORTS`` (see netwarden.plugins: every public module of
this package is imported when a kind is first looked up).

A kind module defines, and marks its ``context`` function with ``@report_kind``::

    NAME = "daily"                      # what `netwarden report generate NAME` takes
    TITLE = "Daily operations report"
    DESCRIPTION = "one line for lists"
    DEFAULT_SINCE = timedelta(days=1)   # the period when none is given
    TEMPLATE = "daily.html"             # in netwarden/report/templates (or the [report] templates_dir)
    VARIABLES = {"name": "what it holds", ...}   # documented in docs/reports.md, checked by a test

    @report_kind
    def context(job: Job) -> dict:      # the template's variables (beyond the common ones)

:class:`netwarden.report.render.Job` carries the connection, the period, the settings and the options
(``incident``, ``model``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from netwarden.plugins import Registry

F = TypeVar("F", bound=Callable[..., Any])


class UnknownReport(LookupError):
    pass


REPORTS: Registry[ModuleType] = Registry(
    "report", "netwarden.report.kinds", key="NAME", error=UnknownReport,
    required=("NAME", "TITLE", "DESCRIPTION", "DEFAULT_SINCE", "TEMPLATE", "VARIABLES"))


def report_kind(context: F) -> F:
    """Decorator on a kind module's ``context(job)``: that module is a report kind, named by its NAME."""
    REPORTS.register(sys.modules[context.__module__])
    return context


def kinds() -> dict[str, ModuleType]:
    return REPORTS.all()


def get_kind(name: str) -> ModuleType:
    if name not in REPORTS:
        raise UnknownReport(f"no report {name!r}; there are: {', '.join(kinds())}")
    return REPORTS.entries[name]
