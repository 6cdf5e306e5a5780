"""Adoption edge cases: a failed `migrate` first, the ledger check, odd catalogue names, values outside the choices."""

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


# Inside the database, not in Python: once `migrate` creates the ledger table, every ledger entry written to it
# bumps that user's balance by one coin, so the opening balances never match (an event trigger arms a row trigger).
SKEW_THE_LEDGER = """
CREATE FUNCTION test_skew_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_balances SET coins = coins + 1 WHERE user_id = NEW.user_id;
    RETURN NULL;
END $$;
CREATE FUNCTION test_arm_skew() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = 'public.transactions') THEN
        CREATE TRIGGER test_skew AFTER INSERT ON transactions FOR EACH ROW EXECUTE FUNCTION test_skew_balance();
    END IF;
END $$;
CREATE EVENT TRIGGER test_arm_skew ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION test_arm_skew();
"""


def test_a_ledger_mismatch_found_at_the_end_rolls_the_whole_adoption_back(legacy_db):
    legacy_db.sql(SKEW_THE_LEDGER)
    before = legacy_db.dump()
    result = legacy_db.manage("adopt_legacy_db")
    assert result.returncode != 0
    assert "rolled back" in result.stderr and "3 balance(s) do not match the ledger" in result.stderr
    assert "42705442" in result.stderr
    assert "Adopted" not in result.stdout
    assert legacy_db.dump() == before


def test_legacy_index_and_constraint_names_with_a_double_quote_are_renamed_or_dropped(legacy_db):
    legacy_db.sql('ALTER INDEX ix_avatars_finetune_id RENAME TO "ix_avatars_""finetune""_id"')
    legacy_db.sql('ALTER INDEX ix_users_telegram_id RENAME TO "ix_users_""telegram_id"""')
    legacy_db.sql('ALTER TABLE avatars RENAME CONSTRAINT avatars_user_id_fkey TO "avatars_""user""_fkey"')
    output = legacy_db.manage("adopt_legacy_db")
    assert output.returncode == 0, output.stdout + output.stderr
    indexes = {name for (name,) in legacy_db.sql("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert "avatars_finetune_id_04a15899" in indexes and "users_telegram_id_key" in indexes
    assert not {name for name in indexes if '"' in name}
    assert legacy_db.sql("SELECT conname FROM pg_constraint WHERE conname LIKE '%\"%'") == []


@pytest.mark.parametrize("change, report", [
    ("UPDATE promokodes SET type = 'gift' WHERE code = 'SALE20'",
     "promokodes id=c1111111-0000-0000-0000-000000000002: type 'gift' is not one of balance, bonus, discount"),
    ("UPDATE avatars SET fal_priority = 'Turbo' WHERE name = 'Old'",
     "avatars id=e1111111-0000-0000-0000-000000000003: fal_priority 'Turbo' is not one of speed, quality, "
     "high_res_only"),
])
def test_a_value_outside_the_choices_is_refused_with_a_report_and_nothing_changed(legacy_db, change, report):
    legacy_db.sql(change)
    before = legacy_db.dump()
    result = legacy_db.manage("adopt_legacy_db")
    assert result.returncode != 0
    assert "Some rows cannot be converted; nothing was changed" in result.stderr and report in result.stderr
    assert legacy_db.dump() == before


def test_choice_values_are_lower_cased_when_the_column_type_changes_too(legacy_db):
    # The Alembic-era rows hold it so already; the create_all ones store the lower-case value.
    legacy_db.sql("UPDATE promokodes SET type = 'BONUS' WHERE code = 'BONUS10'")
    legacy_db.sql("ALTER TABLE promokodes ALTER COLUMN type TYPE varchar(50)")
    assert legacy_db.sql("SELECT type FROM promokodes WHERE code = 'BONUS10'") == [("BONUS",)]
    result = legacy_db.manage("adopt_legacy_db")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "type: 'BONUS' -> 'bonus' in 1 rows" in result.stdout
    assert legacy_db.sql("SELECT type FROM promokodes WHERE code = 'BONUS10'") == [("bonus",)]
