"""The SQL every migration step emits (upgrade one at a time to head, then downgrade one at a time to base) on
SQLite, MariaDB and PostgreSQL (the loopback servers of tests/conftest.py), with the reflected schema after each
step: to prove that rewriting released migrations changes nothing they do.

    PYTHONPATH=<checkout> .venv/bin/python scripts/migration_ddl.py before.json      # in the old checkout
    PYTHONPATH=$PWD .venv/bin/python scripts/migration_ddl.py after.json
    .venv/bin/python scripts/migration_ddl.py --compare before.json after.json

SQLite's batch steps (0007, 0010) re-create the alerts indexes in an order that changes from run to run (a set of
Index objects): the comparison accepts the same statements in another order and says where.
"""
import json, sys, tempfile, uuid


def compare(a_path: str, b_path: str) -> int:
    a, b = json.load(open(a_path)), json.load(open(b_path))
    bad = 0
    for engine in a:
        for x, y in zip(a[engine], b.get(engine, [])):
            same_sql = "same SQL" if x["sql"] == y["sql"] else \
                "same SQL in another order" if sorted(x["sql"]) == sorted(y["sql"]) else "OTHER SQL"
            same_schema = "same schema" if x["schema"] == y["schema"] else "OTHER SCHEMA"
            bad += same_sql == "OTHER SQL" or same_schema == "OTHER SCHEMA"
            print(engine, x["step"], same_sql, same_schema, sep="\t")
        bad += len(a[engine]) != len(b.get(engine, []))
    return 1 if bad else 0


if sys.argv[1] == "--compare":
    sys.exit(compare(sys.argv[2], sys.argv[3]))

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, inspect, text
from netwarden.store.database import _alembic_config, normalise_url

tag = uuid.uuid4().hex[:6]
name = f"netwarden_dups_ddl_{tag}"
urls = {"sqlite": f"sqlite:///{tempfile.mkdtemp()}/x.db",
        "mariadb": f"mysql://root@127.0.0.1:3306/{name}",
        "postgresql": f"postgresql://postgres@127.0.0.1:5432/{name}"}

def _admin(engine, mariadb_sql, postgresql_sql):
    """Run a statement on the server's administrative database (creating or dropping the scratch one)."""
    if engine == "mariadb":
        with create_engine("mysql+pymysql://root@127.0.0.1:3306/").begin() as c:
            c.execute(text(mariadb_sql))
    if engine == "postgresql":
        admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(postgresql_sql))


def setup(engine):
    _admin(engine, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4", f'CREATE DATABASE "{name}"')


def teardown(engine):
    _admin(engine, f"DROP DATABASE `{name}`", f'DROP DATABASE "{name}" WITH (FORCE)')


def reflect(eng):
    insp = inspect(eng)
    out = {}
    for t in sorted(insp.get_table_names()):
        out[t] = {"columns": [[c["name"], str(c["type"]), c["nullable"], str(c.get("default")), c.get("autoincrement")] for c in insp.get_columns(t)],
                  "pk": insp.get_pk_constraint(t), "fks": sorted(insp.get_foreign_keys(t), key=str),
                  "indexes": sorted(insp.get_indexes(t), key=lambda i: i["name"]),
                  "unique": sorted(insp.get_unique_constraints(t), key=lambda i: i["name"] or ""),
                  "options": {k: v for k, v in insp.get_table_options(t).items()}}
    return json.loads(json.dumps(out, default=str))

script = ScriptDirectory.from_config(_alembic_config())
revs = [s.revision for s in reversed(list(script.walk_revisions()))]
result = {}
for engine, url in urls.items():
    setup(engine)
    try:
        eng = create_engine(normalise_url(url))
        sql = []
        event.listen(eng, "before_cursor_execute", lambda conn, cur, stmt, params, ctx, many: sql.append(stmt.strip()))
        steps = []
        def run(action, target):
            sql.clear()
            with eng.begin() as conn:
                cfg = _alembic_config(); cfg.attributes["connection"] = conn
                getattr(command, action)(cfg, target)
            ddl = [s for s in sql if not s.upper().startswith(("SELECT", "PRAGMA", "SHOW", "SET ")) and "alembic_version" not in s]
            steps.append({"step": f"{action} {target}", "sql": ddl, "schema": reflect(eng)})
        for r in revs:
            run("upgrade", r)
        for r in reversed(revs):
            run("downgrade", "-1")
        result[engine] = steps
        eng.dispose()
    finally:
        teardown(engine)
json.dump(result, open(sys.argv[1], "w"), indent=1, sort_keys=True)
print({e: (len(s), sum(len(x["sql"]) for x in s)) for e, s in result.items()})
