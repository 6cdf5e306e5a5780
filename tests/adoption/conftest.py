"""Scratch PostgreSQL databases of the earlier service, on the server the test suite runs on.

Every adoption test runs on both shapes such a database can have (``legacy_server`` is parametrised): ``alembic``,
a template loaded once with ``../shared/legacy/schema.sql``, ``sample-data.sql`` and ``legacy-quirks.sql``; and
``create_all``, one loaded with ``../shared/legacy/schema-createall.sql`` (the newest models' own schema) and
``createall-data.sql`` (the same rows as those models store them). Each test gets its own copy of the template.
Commands run as real processes (``manage.py``) against it.
"""

import os
import shutil
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connections

ROOT = Path(settings.BASE_DIR)
LEGACY = ROOT.parent / "shared" / "legacy"
QUIRKS = Path(__file__).with_name("legacy-quirks.sql")
CREATE_ALL_DATA = Path(__file__).with_name("createall-data.sql")


@dataclass(frozen=True)
class Shape:
    name: str
    files: tuple[Path, ...]
    alembic_version: str | None  # the stale row; None: no alembic_version table at all
    untouched: tuple[str, ...]  # tables adoption must leave exactly as they are
    dry_run_lines: tuple[str, ...]  # what --dry-run says about this shape's own quirks


SHAPES = {
    "alembic": Shape(
        "alembic", (LEGACY / "schema.sql", LEGACY / "sample-data.sql", QUIRKS), "5088361401fe",
        ("alembic_version", "user_transcripts", "user_transcript_cache", "operator_notes"),
        ("Alembic-era database recognised (alembic_version 5088361401fe: stale, not used)",
         "is_favorite: 2 NULL values -> False, then NOT NULL",
         "drop index idx_avatars_user_main_unique"),
    ),
    "create_all": Shape(
        "create_all", (LEGACY / "schema-createall.sql", CREATE_ALL_DATA), None,
        ("user_groups", "user_transcripts", "user_transcript_cache", "operator_notes"),
        ("(create_all, never migrated: no alembic_version table)",
         "gender: character varying(6) -> character varying(16) (3 values, USING lower(gender::text))",
         "gender: 'FEMALE' -> 'female' in 2 rows",
         "photo_key: missing (an unused legacy column) -> added as character varying(255), NULL in every row",
         "updated_at: timestamp without time zone -> timestamp with time zone (1 values, USING updated_at AT TIME "
         "ZONE 'UTC')",
         "add index avatars_training_type_854662d7",
         "user_groups (1 rows)"),
    ),
}


def _bin(name: str) -> str:
    """The newest installed PostgreSQL's client (as scripts/postgres picks the server), else the one on PATH."""
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    candidates = [path / name for path in reversed(versions) if (path / name).exists()]
    return str(candidates[0]) if candidates else shutil.which(name)


class Server:
    def __init__(self):
        db = settings.DATABASES["default"]
        self.host, self.port = db.get("HOST") or "127.0.0.1", str(db.get("PORT") or 5432)
        self.user, self.password = db.get("USER") or "postgres", db.get("PASSWORD") or ""
        self.psql, self.pg_dump = _bin("psql"), _bin("pg_dump")

    def url(self, name: str) -> str:
        auth = f"{self.user}:{self.password}" if self.password else self.user
        return f"postgres://{auth}@{self.host}:{self.port}/{name}"

    def admin(self, sql: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def psql_file(self, name: str, *files: Path) -> None:
        args = [self.psql, "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(name)]
        for file in files:
            args += ["-f", str(file)]
        subprocess.run(args, check=True, capture_output=True, env={**os.environ, "PGCLIENTENCODING": "UTF8"})


class LegacyDatabase:
    def __init__(self, server: Server, name: str):
        self.server, self.name, self.url = server, name, server.url(name)
        self.shape: Shape | None = getattr(server, "shape", None)

    def manage(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        env = {**os.environ, "DATABASE_URL": self.url, "DJANGO_SETTINGS_MODULE": "config.settings_test"}
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=180, check=check, stdin=subprocess.DEVNULL,
        )

    def sql(self, statement: str, params=None) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def dump(self) -> str:
        """Everything: schema, rows, sequences (pg_dump), to prove that nothing changed."""
        result = subprocess.run(
            [self.server.pg_dump, "--no-owner", "--no-privileges", "-d", self.url],
            check=True, capture_output=True, text=True,
        )
        # \restrict lines carry a random key per run (pg_dump's protection against malicious dumps).
        lines = result.stdout.splitlines()
        return "\n".join(line for line in lines if not line.startswith(("\\restrict", "\\unrestrict")))

    def rows(self, table: str) -> list[str]:
        return [row for (row,) in self.sql(f"SELECT row_to_json(t)::text FROM {table} t ORDER BY 1")]

    @contextmanager
    def orm(self, django_db_blocker):
        """A second Django connection (alias ``adopted``) on this database, for checks through the ORM."""
        alias = "adopted"
        connections.settings[alias] = {**connections.settings["default"], "NAME": self.name}
        try:
            with django_db_blocker.unblock():
                yield alias
        finally:
            connections[alias].close()
            del connections[alias]
            del connections.settings[alias]


@pytest.fixture(scope="session", params=list(SHAPES))
def legacy_server(request):
    server = Server()
    server.shape = SHAPES[request.param]
    template = f"adopt_template_{request.param}_{os.getpid()}"
    server.admin(f"DROP DATABASE IF EXISTS {template}")
    server.admin(f"CREATE DATABASE {template}")
    server.psql_file(template, *server.shape.files)
    server.template = template
    yield server
    server.admin(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")


@contextmanager
def _scratch_copy(server: Server):
    name = f"adopt_{uuid.uuid4().hex[:12]}"
    server.admin(f"CREATE DATABASE {name} TEMPLATE {server.template}")
    try:
        yield LegacyDatabase(server, name)
    finally:
        server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def legacy_db(legacy_server):
    with _scratch_copy(legacy_server) as db:
        yield db


@pytest.fixture(scope="module")
def adopted_db(legacy_server):
    """One adopted database shared by tests that only read it (or change rows they alone look at)."""
    with _scratch_copy(legacy_server) as db:
        result = db.manage("adopt_legacy_db")
        assert result.returncode == 0, result.stdout + result.stderr
        yield db
