import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

ENUMS = {
    "accounts.models": ["UserProfileStatus"],
    "billing.models": ["TransactionType", "TransactionStatus"],
    "promocodes.models": ["PromokodeStatus", "PromokodeType"],
    "generations.models": [
        "AvatarStatus", "AvatarGender", "AvatarTrainingType", "AvatarType", "PhotoValidationStatus",
        "FalFinetuneType", "FalPriority", "GenerationStatus",
    ],
}


@pytest.mark.parametrize("module,names", ENUMS.items())
def test_every_enum_is_importable_from_its_app_models(module, names):
    from django.db.models import TextChoices

    mod = importlib.import_module(module)
    for name in names:
        enum = getattr(mod, name)
        assert issubclass(enum, TextChoices)
        assert all(value == value.lower() for value in enum.values)


def test_legacy_table_names_are_kept():
    from django.apps import apps

    tables = {m._meta.db_table for m in apps.get_models()}
    legacy = {
        "users", "user_states", "user_profiles", "user_settings", "user_balances", "promokodes", "promokode_usages",
        "avatars", "avatar_photos", "style_categories", "style_subcategories", "style_templates",
        "image_generations", "user_favorite_templates",
    }
    assert legacy <= tables
    assert "transactions" in tables


def test_ledger_has_extra_data_and_no_metadata_field():
    from billing.models import Transaction

    names = {f.name for f in Transaction._meta.get_fields()}
    assert "extra_data" in names and "metadata" not in names


def test_initial_migrations_create_only_legacy_tables():
    """``--fake-initial`` fakes a 0001 only when all its tables exist: 0001 must hold legacy tables only."""
    from django.db.migrations import CreateModel
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    created = {
        app: {op.options.get("db_table") for op in loader.get_migration(app, "0001_initial").operations
              if isinstance(op, CreateModel)}
        for app in ("accounts", "billing", "promocodes", "generations")
    }
    assert created["billing"] == {"user_balances"}
    assert created["accounts"] == {"users", "user_states", "user_profiles", "user_settings"}
    assert created["promocodes"] == {"promokodes", "promokode_usages"}
    assert "transactions" not in set().union(*created.values())


@pytest.mark.django_db
def test_migrations_are_in_sync_with_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_migrations_unapply_and_reapply_on_this_database():
    call_command("migrate", "billing", "0001", verbosity=0)
    assert "transactions" not in connection.introspection.table_names()
    call_command("migrate", verbosity=0)
    assert "transactions" in connection.introspection.table_names()


def _manage(*args, env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_missing_secret_key_without_debug_is_one_clear_line(tmp_path):
    result = _manage("check", env_extra={"DEBUG": "false", "SECRET_KEY": ""})
    assert result.returncode == 1
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_debug_without_secret_key_starts():
    result = _manage("check", env_extra={"DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_default_language_is_russian_with_english_available(settings):
    assert settings.LANGUAGE_CODE == "ru"
    assert {code for code, _ in settings.LANGUAGES} == {"ru", "en"}
