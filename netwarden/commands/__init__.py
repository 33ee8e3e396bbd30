"""Command groups that live in their own modules (``listen``, ``capture``, ``follow`` ...).

Each module here defines its commands on :data:`netwarden.cli.cli` when imported; the CLI imports all
of them at start, so adding a command means adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
