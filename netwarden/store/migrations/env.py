"""Alembic environment: NetWarden runs migrations itself (``Database.migrate``), on a given connection."""

from alembic import context

from netwarden.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
