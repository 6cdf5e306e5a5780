"""What the database holds (PostgreSQL's catalogue) and what this project expects of each legacy table.

Two shapes of the earlier service's database are known: the Alembic-era one (``../shared/legacy/schema.sql``:
native enum types, a stale ``alembic_version``) and the one its newest models create by themselves
(``schema-createall.sql``: ``create_all``, never migrated, enums as ``VARCHAR(n)``, no ``alembic_version``). Both
are recognised by their tables and columns, never by a version row.
"""

import re
from dataclasses import dataclass

from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from accounts.database import database_state

# Apps whose 0001_initial creates exactly their legacy tables.
LEGACY_APPS = ("accounts", "billing", "promocodes", "generations")
# Legacy columns this project never reads or writes: a database made without them (the newest models dropped them)
# gets them added, empty, so that its tables end up exactly as a fresh database's.
OPTIONAL_LEGACY_COLUMNS = {"avatars": ("photo_key", "preview_key")}
# Legacy indexes that a later migration replaces with this project's constraint of the same rule.
REPLACED_INDEXES = {"idx_avatars_user_main_unique": "avatars_one_main_per_user"}


@dataclass
class Column:
    type: str
    not_null: bool
    default: str | None
    is_enum: bool


def q(name: str) -> str:
    """A quoted identifier. Names come from the catalogue, so an embedded '"' is doubled (Django's quote_name
    does not escape it)."""
    return '"' + name.replace('"', '""') + '"'


def fetch(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or None)
        return cursor.fetchall()


def count(table: str, where: str = "TRUE") -> int:
    return fetch(f"SELECT count(*) FROM {q(table)} WHERE {where}")[0][0]


# --- What the database holds -------------------------------------------------------------------------------

def db_columns() -> dict[str, dict[str, Column]]:
    rows = fetch(
        """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), t.typtype = 'e'
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
        """
    )
    tables: dict[str, dict[str, Column]] = {}
    for table, column, type_, not_null, default, is_enum in rows:
        tables.setdefault(table, {})[column] = Column(type_, not_null, default, is_enum)
    return tables


def db_constraints(table: str) -> list[dict]:
    rows = fetch(
        """
        SELECT con.conname, con.contype, con.condeferrable AND con.condeferred,
               ARRAY(SELECT a.attname FROM unnest(con.conkey) k JOIN pg_attribute a
                     ON a.attrelid = con.conrelid AND a.attnum = k ORDER BY a.attname)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relname = %s
        """,
        [table],
    )
    return [{"name": r[0], "type": r[1], "deferred": r[2], "columns": list(r[3])} for r in rows]


def db_indexes(table: str) -> list[dict]:
    rows = fetch(
        """
        SELECT i.relname, ix.indisunique, ix.indpred IS NOT NULL, pg_get_indexdef(i.oid),
               EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.oid),
               ARRAY(SELECT a.attname FROM unnest(ix.indkey) k JOIN pg_attribute a
                     ON a.attrelid = ix.indrelid AND a.attnum = k)
        FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema() AND t.relname = %s
        """,
        [table],
    )
    return [
        {"name": r[0], "unique": r[1], "partial": r[2], "definition": r[3], "constraint": r[4], "columns": list(r[5])}
        for r in rows
    ]


def alembic_versions(columns: dict[str, dict[str, Column]]) -> list[str] | None:
    """The rows of ``alembic_version``; None when the table does not exist (a ``create_all`` database)."""
    if "alembic_version" not in columns:
        return None
    return [version for (version,) in fetch("SELECT version_num FROM alembic_version ORDER BY 1")]


# --- What this project expects -------------------------------------------------------------------------------

def legacy_models() -> list:
    """The models of the legacy tables as each app's 0001_initial creates them (not as they are today)."""
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    state = loader.project_state([(app, "0001_initial") for app in LEGACY_APPS])
    return sorted(
        (model for model in state.apps.get_models() if model._meta.app_label in LEGACY_APPS),
        key=lambda model: model._meta.db_table,
    )


def current_field(table: str, field_):
    """The field of today's model for the same column (its choices are what adopted rows must hold once every
    migration ran), or the 0001_initial field when today's model no longer has that column."""
    for model in apps.get_models():
        if model._meta.db_table == table:
            for candidate in model._meta.local_fields:
                if candidate.column == field_.column:
                    return candidate
    return field_


def expected_type(field_) -> str:
    db_type = field_.db_type(connection).replace(", ", ",")
    return re.sub(r"^varchar\((\d+)\)$", r"character varying(\1)", db_type)


def tables_django_creates(legacy_tables: set[str]) -> set[str]:
    tables = set(connection.introspection.django_table_names(only_existing=False, include_views=False))
    return (tables | {"django_migrations"}) - legacy_tables


def ignored_django_tables(columns: dict[str, dict[str, Column]]) -> set[str]:
    """An EMPTY django_migrations is what a `migrate` that failed on the legacy tables leaves behind (Django
    creates it outside any transaction before accounts.0001_initial fails): it records nothing, so it counts as
    absent and `migrate --fake-initial` fills it. One with rows means Django's migrations ran here: refused."""
    if "django_migrations" in columns and not count("django_migrations"):
        return {"django_migrations"}
    return set()


def later_columns(models) -> dict[str, set[str]]:
    """Columns of legacy tables that later migrations add (they must not exist yet)."""
    initial = {m._meta.db_table: {f.column for f in m._meta.local_fields} for m in models}
    later: dict[str, set[str]] = {}
    for model in apps.get_models():
        table = model._meta.db_table
        if table in initial:
            later[table] = {f.column for f in model._meta.local_fields if f.column} - initial[table]
    return later


def adoption_state() -> str:
    """``adopted`` (Django's migrations are recorded), ``legacy`` (tables of the earlier service) or ``empty``."""
    return database_state(legacy_tables={m._meta.db_table for m in legacy_models()} | {"alembic_version"})


def pending_migrations(*, non_atomic_only: bool = False) -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _backwards in plan if not (non_atomic_only and m.atomic)]
