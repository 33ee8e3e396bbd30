"""PostgreSQL: events.source_id without its foreign key, which the server checked with one look-up of
ingest_sources per row (an SPI query from the RI trigger: a third of a COPY's server time). What the key did is
done another way there, with the same guarantees:

- an event names an existing source: the writer checks the batch's sources once and locks them
  (``SELECT .. FOR KEY SHARE``, the lock the key's own check takes) until its transaction ends
  (``netwarden.store.bulk.lock_parents``);
- ON DELETE SET NULL: a trigger on ingest_sources sets the events' source_id to NULL when their source goes (a
  delete waits for the writers' locks, then sees their events). Nothing deletes sources in the hot path.

SQLite and MariaDB keep the key (MariaDB's writer already skips the per-row check). Instant on a large table.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FK = "fk_events_source_id_ingest_sources"
FUNCTION = "netwarden_events_source_gone"
TRIGGER = "ingest_sources_gone_events"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint(FK, "events", type_="foreignkey")
    # OR REPLACE: a database emptied by dropping its tables (not by downgrading) still holds the function
    op.execute(f"""CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE events SET source_id = NULL WHERE source_id = OLD.id;
    RETURN NULL;
END $$""")
    op.execute(f"CREATE TRIGGER {TRIGGER} AFTER DELETE ON ingest_sources "
               f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TRIGGER {TRIGGER} ON ingest_sources")
    op.execute(f"DROP FUNCTION {FUNCTION}()")
    op.execute("UPDATE events SET source_id = NULL WHERE source_id IS NOT NULL "
               "AND NOT EXISTS (SELECT 1 FROM ingest_sources s WHERE s.id = events.source_id)")
    op.create_foreign_key(FK, "events", "ingest_sources", ["source_id"], ["id"], ondelete="SET NULL")
