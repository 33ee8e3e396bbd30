"""Model registry tables (netwarden.learn).

Imported at the end of netwarden.store.schema, so these tables are part of ``metadata``; a change here needs
its Alembic migration too.
"""

from __future__ import annotations

from netwarden.store.schema import metadata  # noqa: F401
