"""Report kinds, one module each, found automatically (modules starting with ``_`` are not).

A kind module defines::

    NAME = "daily"                      # what `netwarden report generate NAME` takes
    TITLE = "Daily operations report"
    DESCRIPTION = "one line for lists"
    DEFAULT_SINCE = timedelta(days=1)   # the period when none is given
    TEMPLATE = "daily.html"             # in netwarden/report/templates (or the [report] templates_dir)
    VARIABLES = {"name": "what it holds", ...}   # documented in docs/reports.md, checked by a test

    def context(job: Job) -> dict:      # the template's variables (beyond the common ones)

:class:`netwarden.report.render.Job` carries the connection, the period, the settings and the options
(``incident``, ``model``).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType


class UnknownReport(LookupError):
    pass


@cache
def kinds() -> dict[str, ModuleType]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            found[module.NAME] = module
    return found


def get_kind(name: str) -> ModuleType:
    try:
        return kinds()[name]
    except KeyError:
        raise UnknownReport(f"no report {name!r}; there are: {', '.join(kinds())}") from None
