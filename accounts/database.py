"""Is this database one this project's code can use, or the earlier service's, not adopted yet?

Commands that use the ORM ask first (``accounts.management.base.ProjectCommand``), so an operator who points
DATABASE_URL at an old database reads one line saying what to do instead of a traceback about a missing table.
"""

from django.db import connection

from accounts.exceptions import LegacyDatabaseNotAdopted

# Every database of the earlier service has `users` (its create_all made it); the Alembic-era ones also have
# alembic_version. A fresh database has neither before `migrate`, and records accounts.0001_initial after it.
LEGACY_MARKERS = frozenset({"users", "alembic_version"})
NOT_ADOPTED = "this looks like a database of the earlier service: run adopt_legacy_db first"


def database_state(*, legacy_tables=LEGACY_MARKERS) -> str:
    """``adopted`` (this project's migrations are recorded: migrated or adopted), ``legacy`` (tables of the earlier
    service and no record of our migrations) or ``empty``."""
    tables = set(connection.introspection.table_names())
    if "django_migrations" in tables:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM django_migrations WHERE app = 'accounts' AND name = '0001_initial'")
            if cursor.fetchone():
                return "adopted"
    return "legacy" if tables & set(legacy_tables) else "empty"


def database_require_adopted() -> None:
    """Raise ``LegacyDatabaseNotAdopted`` on a database of the earlier service that is not adopted yet."""
    if database_state() == "legacy":
        raise LegacyDatabaseNotAdopted(NOT_ADOPTED)
