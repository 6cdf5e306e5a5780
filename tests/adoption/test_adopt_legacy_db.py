"""Adopting a PostgreSQL database of the earlier service, in both its shapes (Alembic-era, create_all): every legacy
row kept, converted, and nothing changed on failure."""

import json
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

import pytest
from django.apps import apps
from django.db import models

pytestmark = pytest.mark.postgres

LEGACY_TABLES = [
    "users", "user_states", "user_profiles", "user_settings", "user_balances", "promokodes", "promokode_usages",
    "avatars", "avatar_photos", "style_categories", "style_subcategories", "style_templates", "image_generations",
    "user_favorite_templates",
]


def adopt(db, *args):
    result = db.manage("adopt_legacy_db", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def model_of(table: str) -> type[models.Model]:
    return next(m for m in apps.get_models() if m._meta.db_table == table)


def legacy_rows(db, table: str) -> dict[str, dict]:
    """Every row as the legacy database stores it (floats in their exact shortest decimal spelling)."""
    rows = [json.loads(text, parse_float=Decimal) for text in db.rows(table)]
    pk = model_of(table)._meta.pk.column
    return {str(row[pk]): row for row in rows}


def expected_value(field: models.Field, raw):
    """What a legacy value must read as through this project's model (legacy-mapping.md)."""
    if raw is None:
        return None if field.null else field.get_default()
    target = field.target_field if field.is_relation else field
    if isinstance(target, models.UUIDField):
        return UUID(raw)
    if isinstance(target, models.DecimalField):
        return Decimal(str(raw)).quantize(Decimal(1).scaleb(-target.decimal_places), rounding=ROUND_HALF_UP)
    if isinstance(target, models.FloatField):
        return float(raw)
    if isinstance(target, models.DateTimeField):
        moment = datetime.fromisoformat(raw)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # naive legacy timestamps are UTC
    if isinstance(target, models.BigIntegerField):
        return int(raw)
    if target.choices:
        return raw.lower()
    return raw


def test_adoption_keeps_every_legacy_row_field_by_field(legacy_db, django_db_blocker):
    before = {table: legacy_rows(legacy_db, table) for table in LEGACY_TABLES}
    untouched = {table: legacy_db.rows(table) for table in legacy_db.shape.untouched}
    output = adopt(legacy_db)
    assert "coins 0.30000000000000004 -> 0.30" in output
    assert "coins 2.675 -> 2.68" in output and "bonus_amount 10.005 -> 10.01" in output
    with legacy_db.orm(django_db_blocker) as alias:
        for table, rows in before.items():
            model = model_of(table)
            objects = {str(obj.pk): obj for obj in model.objects.using(alias).filter(pk__in=list(rows))}
            assert objects.keys() == rows.keys(), table  # (migrations may add rows, e.g. the style catalogue)
            for pk, row in rows.items():
                for field in model._meta.local_fields:
                    if field.column in row:
                        actual = getattr(objects[pk], field.attname)
                        assert actual == expected_value(field, row[field.column]), (table, pk, field.column)
    assert {table: legacy_db.rows(table) for table in legacy_db.shape.untouched} == untouched


def test_adopted_rows_read_as_this_project_expects(adopted_db, django_db_blocker):
    legacy_db = adopted_db
    from accounts.models import User
    from billing.models import Transaction, TransactionType, UserBalance
    from generations.models import Avatar, AvatarPhoto, ImageGeneration, StyleCategory, StyleTemplate
    from promocodes.models import Promokode

    with legacy_db.orm(django_db_blocker) as db:
        coins = dict(UserBalance.objects.using(db).values_list("user__telegram_id", "coins"))
        assert coins == {42705442: Decimal("150.00"), 100200300: Decimal("0.30"), 5000000001: Decimal("2.68"),
                         777: Decimal("0.00")}
        assert User.objects.using(db).get(telegram_id=5000000001).is_blocked is True
        main = Avatar.objects.using(db).get(name="Я в горах")
        assert (main.gender, main.avatar_type, main.status, main.training_type, main.finetune_type,
                main.fal_priority) == ("male", "character", "completed", "portrait", "lora", "quality")
        assert main.training_config == {"steps": 1000} and main.fal_response_data == {"status": "COMPLETED"}
        old = Avatar.objects.using(db).get(name="Old")
        assert (old.gender, old.avatar_type, old.status, old.training_type, old.finetune_type) == (
            "female", "custom", "error", "portrait", "lora")
        assert (old.multiresolution_training, old.subject_crop, old.create_masks, old.captioning) == (
            True, True, False, True)
        assert AvatarPhoto.objects.using(db).get(minio_key="avatars/e111/1.jpg").validation_status == "valid"
        failed = ImageGeneration.objects.using(db).get(final_prompt="a cat in space")
        assert failed.status == "failed" and failed.result_urls is None
        assert legacy_db.sql(
            "SELECT jsonb_typeof(result_urls) FROM image_generations WHERE final_prompt = 'a cat in space'"
        ) == [("null",)]  # JSON null stays JSON null, not SQL NULL
        done = ImageGeneration.objects.using(db).get(original_prompt="portrait in office")
        assert done.result_urls == ["https://files.example/1.jpg", "https://files.example/2.jpg"]
        assert done.created_at == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
        disco = ImageGeneration.objects.using(db).get(original_prompt="диско")
        assert (disco.status, disco.is_favorite, disco.is_saved, disco.result_urls) == ("cancelled", False, True, None)
        fun = StyleCategory.objects.using(db).get(pk="legacy_fun")
        assert (fun.sort_order, fun.is_active) == (0, True)
        assert StyleTemplate.objects.using(db).get(pk="legacy_disco").popularity == 0
        assert Promokode.objects.using(db).get(code="BONUS10").type == "bonus"
        opening = Transaction.objects.using(db).filter(type=TransactionType.OPENING_BALANCE)
        assert sorted(opening.values_list("user__telegram_id", "amount", "balance_after")) == [
            (42705442, Decimal("150.00"), Decimal("150.00")),
            (100200300, Decimal("0.30"), Decimal("0.30")),
            (5000000001, Decimal("2.68"), Decimal("2.68")),
        ]
    if legacy_db.shape.alembic_version:
        assert legacy_db.sql("SELECT version_num FROM alembic_version") == [(legacy_db.shape.alembic_version,)]
    else:
        assert legacy_db.sql("SELECT to_regclass('alembic_version')") == [(None,)]  # none is made up
    ledger = legacy_db.manage("check_ledger")
    assert ledger.returncode == 0 and "OK" in ledger.stdout


def test_an_adopted_databases_own_styles_stay_the_whole_catalogue(adopted_db, django_db_blocker):
    """The starting catalogue (generations.0004) is seeded only into an empty one, never mixed into the operator's."""
    from generations.models import StyleCategory, StyleSubcategory, StyleTemplate

    with adopted_db.orm(django_db_blocker) as db:
        assert set(StyleCategory.objects.using(db).values_list("pk", flat=True)) == {"business", "legacy_fun"}
        assert set(StyleSubcategory.objects.using(db).values_list("pk", flat=True)) == {"office", "legacy_party"}
        assert set(StyleTemplate.objects.using(db).values_list("pk", flat=True)) == {"ceo_portrait", "legacy_disco"}


def test_an_avatar_with_the_first_enums_gender_other_is_kept_as_other(legacy_db, django_db_blocker):
    from generations.models import Avatar, AvatarGender

    if legacy_db.shape.name == "alembic":
        legacy_db.sql("ALTER TYPE avatargender ADD VALUE 'OTHER'")  # the earlier service's first enum had it
    legacy_db.sql("UPDATE avatars SET gender = 'OTHER' WHERE name = 'Draft'")
    assert "gender: 'OTHER' -> 'other' in 1 rows" in adopt(legacy_db)
    with legacy_db.orm(django_db_blocker) as db:
        assert Avatar.objects.using(db).get(name="Draft").gender == AvatarGender.OTHER


def test_adopted_schema_is_the_schema_a_fresh_database_gets(adopted_db, legacy_server):
    """Column types, constraints and indexes as `migrate` creates them, so every later migration applies."""
    legacy_db = adopted_db
    fresh = f"{legacy_db.name}_fresh"
    legacy_server.admin(f"CREATE DATABASE {fresh}")
    try:
        from tests.adoption.conftest import LegacyDatabase

        fresh_db = LegacyDatabase(legacy_server, fresh)
        fresh_db.manage("migrate", "-v0", check=True)
        adopted, reference = _catalogue(legacy_db), _catalogue(fresh_db)
    finally:
        legacy_server.admin(f"DROP DATABASE IF EXISTS {fresh} WITH (FORCE)")
    for part in ("columns", "constraints", "indexes"):
        kept = {line for line in adopted[part] - reference[part] if line.split()[0] in legacy_db.shape.untouched}
        legacy_indexes = {line for line in adopted[part] - reference[part] if re.search(r" (idx|ix)_\w+ ", line)}
        assert adopted[part] - reference[part] - kept - legacy_indexes == set(), part
        assert reference[part] - adopted[part] == set(), part


def _catalogue(db) -> dict[str, set[str]]:
    columns = db.sql(
        "SELECT table_name || ' ' || column_name || ' ' || data_type || ' ' || coalesce(character_maximum_length, 0)"
        " || ' ' || coalesce(numeric_precision, 0) || ',' || coalesce(numeric_scale, 0) || ' ' || is_nullable"
        " || ' ' || coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name NOT IN ('django_migrations')"
    )
    constraints = db.sql(
        "SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE connamespace = 'public'::regnamespace"
    )
    indexes = db.sql(
        "SELECT tablename || ' ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'"
    )
    return {"columns": {r for (r,) in columns}, "constraints": {r for (r,) in constraints},
            "indexes": {r for (r,) in indexes}}


def test_dry_run_prints_the_plan_and_changes_nothing(legacy_db):
    before = legacy_db.dump()
    output = adopt(legacy_db, "--dry-run")
    assert legacy_db.dump() == before
    for line in legacy_db.shape.dry_run_lines:
        assert line in output
    assert "users (4 rows): convert columns" in output
    assert "telegram_id: character varying(50) -> bigint (4 values" in output
    assert "status: 'COMPLETED' -> 'completed' in 1 rows" in output
    assert "user_balances id=a1111111-0000-0000-0000-000000000002: coins 0.30000000000000004 -> 0.30" in output
    assert "one opening_balance entry for each of 3 users with a non-zero balance (sum 152.98)" in output
    assert "operator_notes (1 rows)" in output and "user_transcripts (1 rows)" in output
    assert "Dry run: nothing was changed." in output


def _step_number(plan: str, title: str) -> int:
    return int(re.search(rf"^\s*(\d+)\. {re.escape(title)}", plan, re.MULTILINE).group(1))


@pytest.mark.parametrize("after", ["users (4 rows): convert columns", "Django migrations"])
def test_a_failure_half_way_leaves_the_database_exactly_as_before(legacy_db, after):
    before = legacy_db.dump()
    step = _step_number(adopt(legacy_db, "--dry-run"), after)
    result = legacy_db.manage("adopt_legacy_db", "--fail-after-step", str(step))
    assert result.returncode != 0
    assert f"[{step}/" in result.stdout and "rolled back" in result.stderr
    assert legacy_db.dump() == before


def test_a_second_run_has_nothing_to_do(adopted_db):
    before = adopted_db.dump()
    assert "Nothing to do: this database is already adopted." in adopt(adopted_db)
    assert adopted_db.dump() == before


def test_an_unexpected_schema_is_refused_with_the_differences_and_nothing_changed(legacy_db):
    legacy_db.sql("DROP TABLE user_favorite_templates")
    legacy_db.sql("ALTER TABLE users DROP COLUMN timezone")
    before = legacy_db.dump()
    result = legacy_db.manage("adopt_legacy_db")
    assert result.returncode != 0
    assert "table user_favorite_templates is missing" in result.stderr
    assert "column users.timezone is missing" in result.stderr
    assert legacy_db.dump() == before


@pytest.mark.parametrize("change, report", [
    ("UPDATE users SET telegram_id = 'tg-777' WHERE telegram_id = '777'",
     "users id=44444444-4444-4444-4444-444444444444: telegram_id 'tg-777' is not a number"),
    ("UPDATE user_balances SET coins = -5.5 WHERE coins = 0",
     "user_balances id=a1111111-0000-0000-0000-000000000004: coins -5.5 is negative"),
    ("UPDATE promokodes SET max_uses = -1, current_uses = 0 WHERE code = 'SALE20'",
     "promokodes id=c1111111-0000-0000-0000-000000000002: max_uses -1 breaks CHECK \"max_uses\" >= 0"),
])
def test_rows_that_cannot_be_converted_are_refused_with_a_report_and_nothing_changed(legacy_db, change, report):
    legacy_db.sql(change)
    before = legacy_db.dump()
    result = legacy_db.manage("adopt_legacy_db")
    assert result.returncode != 0
    assert "Some rows cannot be converted; nothing was changed" in result.stderr and report in result.stderr
    assert legacy_db.dump() == before


@pytest.mark.parametrize("version", ["1f70882932cf", "not-an-alembic-revision"])
def test_any_stale_alembic_version_is_recognised(legacy_db, version):
    # A create_all database stamped by hand afterwards has the table too.
    legacy_db.sql("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    legacy_db.sql("DELETE FROM alembic_version")
    legacy_db.sql("INSERT INTO alembic_version (version_num) VALUES (%s)", [version])
    assert f"alembic_version {version}: stale" in adopt(legacy_db, "--dry-run")


def test_the_failure_hook_is_hidden_from_help():
    from adoption.management.commands.adopt_legacy_db import Command

    help_text = Command().create_parser("manage.py", "adopt_legacy_db").format_help()
    assert "--dry-run" in help_text and "fail-after-step" not in help_text


def test_a_database_without_legacy_tables_is_not_adopted(legacy_server):
    from tests.adoption.conftest import LegacyDatabase

    name = "adopt_empty_" + str(abs(hash(legacy_server.template)) % 10**8)
    legacy_server.admin(f"CREATE DATABASE {name}")
    try:
        result = LegacyDatabase(legacy_server, name).manage("adopt_legacy_db")
    finally:
        legacy_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert result.returncode != 0 and "nothing to adopt" in result.stderr


def test_add_balance_works_on_adopted_data(legacy_db):
    adopt(legacy_db)
    result = legacy_db.manage("add_balance", "42705442", "10.50", "Welcome back", "--yes")
    assert result.returncode == 0, result.stderr
    assert "Сергей @serg" in result.stdout and "150.00 -> 160.50" in result.stdout
    assert legacy_db.manage("check_ledger").returncode == 0
    blocked = legacy_db.manage("add_balance", "5000000001", "1", "--yes")
    assert blocked.returncode != 0 and "--force" in blocked.stderr


BOT_SERVICES_SNIPPET = """
import json
from accounts.services import user_upsert_from_telegram
from billing.selectors import balance_get
from generations.selectors import avatar_ready_list, gallery_queryset
user = user_upsert_from_telegram(telegram_id=42705442, first_name="Сергей", username="serg", is_premium=None)
print(json.dumps({
    "balance": str(balance_get(user=user)),
    "ready_avatars": [a.name for a in avatar_ready_list(user=user)],
    "gallery": gallery_queryset(user=user).count(),
    "is_premium": user.is_premium,
}, ensure_ascii=False))
"""


def test_a_legacy_user_coming_back_to_the_bot_keeps_balance_avatar_and_images(adopted_db):
    """What /start and the menus call: Telegram's null is_premium is fine, the balance and avatar are there."""
    result = adopted_db.manage("shell", "-v0", "-c", BOT_SERVICES_SNIPPET)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["balance"] == "150.00" and seen["ready_avatars"] == ["Я в горах"]
    assert seen["gallery"] >= 1 and seen["is_premium"] is False
