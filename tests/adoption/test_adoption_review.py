"""Adoption edge cases found in review: a failed `migrate` first, the ledger check, odd catalogue names, choices."""

import pytest

pytestmark = pytest.mark.postgres


def test_a_failed_migrate_before_adoption_does_not_block_it(legacy_db):
    """`migrate` on a legacy database fails on `users` but leaves an empty django_migrations behind."""
    migrate = legacy_db.manage("migrate", "--noinput")
    assert migrate.returncode != 0 and 'relation "users" already exists' in migrate.stderr
    assert legacy_db.sql("SELECT count(*) FROM django_migrations") == [(0,)]
    result = legacy_db.manage("adopt_legacy_db")
    assert result.returncode == 0, result.stdout + result.stderr
    assert legacy_db.sql(
        "SELECT count(*) FROM django_migrations WHERE app = 'accounts' AND name = '0001_initial'"
    ) == [(1,)]
    assert legacy_db.manage("check_ledger").returncode == 0


def test_a_django_migrations_table_with_rows_is_still_refused(legacy_db):
    legacy_db.manage("migrate", "--noinput")
    legacy_db.sql("INSERT INTO django_migrations (app, name, applied) VALUES ('contenttypes', '0001_initial', now())")
    before = legacy_db.dump()
    result = legacy_db.manage("adopt_legacy_db")
    assert result.returncode != 0
    assert "table django_migrations already exists" in result.stderr
    assert legacy_db.dump() == before
