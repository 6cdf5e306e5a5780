"""The plan of an adoption, computed from the database's catalogue and the state of each legacy app's
``0001_initial`` migration: whatever differs between a legacy column and the column that migration would create
becomes one conversion. Building the plan only reads; it refuses (``AdoptionRefused``) a schema it does not know or
rows it cannot convert, so a refusal changes nothing.
"""

from dataclasses import dataclass

from django.core.management import call_command
from django.db import connection

from adoption.catalogue import (
    LEGACY_APPS, OPTIONAL_LEGACY_COLUMNS, Column, alembic_versions, count, db_columns, expected_type, fetch,
    ignored_django_tables, later_columns, legacy_models, pending_migrations, q, tables_django_creates,
)
from adoption.exceptions import AdoptionRefused
from adoption.steps import Step, constraint_step, conversion, table_step
from billing.services import ledger_record_opening_balances

OPENING_BALANCE_AUTHOR = "adopt_legacy_db"


@dataclass
class Plan:
    alembic_version: str | None  # None: no alembic_version table (a database made by the models' create_all)
    steps: list[Step]
    changed_rows: list[str]
    untouched: list[str]
    notes: list[str]


def build_plan() -> Plan:
    """Inspect the database (reads only) and return every step of the adoption, or raise ``AdoptionRefused``."""
    models = legacy_models()
    legacy_tables = {m._meta.db_table for m in models}
    columns = db_columns()
    differences = schema_differences(models, columns)
    if differences:
        raise AdoptionRefused("This is not a schema of the earlier service this command knows; nothing was changed:",
                              differences)
    non_atomic = pending_migrations(non_atomic_only=True)
    if non_atomic:
        raise AdoptionRefused("These migrations cannot run inside one transaction (atomic = False); adopt with "
                              "the release before them, then run `migrate`:", non_atomic)
    blockers: list[str] = []
    changed_rows: list[str] = []
    steps: list[Step] = []
    for model in models:
        step = table_step(model, columns[model._meta.db_table], blockers, changed_rows)
        if step.sql:
            steps.append(step)
    for model in models:
        step = constraint_step(model)
        if step.sql:
            steps.append(step)
    blockers += _constraint_blockers(models)
    if blockers:
        raise AdoptionRefused("Some rows cannot be converted; nothing was changed. Fix them and run again:", blockers)
    steps.append(_migrate_step())
    steps.append(_opening_balance_step())
    untouched = [
        f"{table} ({count(table)} rows)" for table in sorted(set(columns) - legacy_tables)
        if table not in tables_django_creates(legacy_tables)
    ]
    extra = [
        f"{table}.{name} is not used by this project and is kept as it is"
        for model in models for table in [model._meta.db_table]
        for name in sorted(set(columns[table]) - {f.column for f in model._meta.local_fields})
    ]
    versions = alembic_versions(columns)
    return Plan(
        alembic_version=None if versions is None else ", ".join(versions) or "(empty)",
        steps=steps, changed_rows=changed_rows, untouched=untouched, notes=extra,
    )


def schema_differences(models, columns: dict[str, dict[str, Column]]) -> list[str]:
    """Why this is not a database of the earlier service (empty: it is). ``alembic_version`` is not required: the
    newest models' create_all never made it, and the tables say more than its stale row."""
    legacy_tables = {m._meta.db_table for m in models}
    problems = []
    for table in sorted((tables_django_creates(legacy_tables) & set(columns)) - ignored_django_tables(columns)):
        problems.append(f"table {table} already exists, but this project's migrations create it")
    later = later_columns(models)
    for model in models:
        table = model._meta.db_table
        if table not in columns:
            problems.append(f"table {table} is missing")
            continue
        for field_ in model._meta.local_fields:
            actual = columns[table].get(field_.column)
            if actual is None and not _optional(table, field_):
                problems.append(f"column {table}.{field_.column} is missing")
            elif actual is not None and conversion(actual, expected_type(field_)) is None:
                problems.append(
                    f"column {table}.{field_.column} is {actual.type}; cannot convert it to {expected_type(field_)}"
                )
        known = {f.column for f in model._meta.local_fields}
        for name, column in sorted(columns[table].items()):
            if name in later.get(table, set()):
                problems.append(f"column {table}.{name} already exists, but this project's migrations add it")
            elif name not in known and column.not_null and column.default is None:
                problems.append(f"column {table}.{name} is unknown and NOT NULL without a default")
    return problems


def _optional(table: str, field_) -> bool:
    """A legacy column this project never uses, which it can add empty when the database lacks it."""
    return field_.column in OPTIONAL_LEGACY_COLUMNS.get(table, ()) and field_.null and not field_.has_default()


def _constraint_blockers(models) -> list[str]:
    """Rows that this project's constraints (column checks, later migrations' constraints) would refuse."""
    problems = [
        f"{model._meta.db_table} {model._meta.pk.column}={key}: {field_.column} {value} breaks CHECK {check}"
        for model in models for field_ in model._meta.local_fields if (check := field_.db_check(connection))
        for key, value in fetch(
            f"SELECT {q(model._meta.pk.column)}, {q(field_.column)} FROM {q(model._meta.db_table)} "
            f"WHERE NOT ({check}) ORDER BY 1"
        )
    ]
    problems += [
        f"user_balances id={key}: coins {coins} is negative"
        for key, coins in fetch("SELECT id, coins::text FROM user_balances WHERE coins < 0 ORDER BY 1")
    ]
    problems += [
        f"promokodes id={key}: current_uses {used} exceeds max_uses {limit}"
        for key, used, limit in fetch(
            "SELECT id, current_uses, max_uses FROM promokodes WHERE current_uses > max_uses ORDER BY 1"
        )
    ]
    problems += [
        f"avatars of user {user}: {n} are marked main (one is allowed)"
        for user, n in fetch(
            "SELECT user_id, count(*) FROM avatars WHERE is_main GROUP BY 1 HAVING count(*) > 1 ORDER BY 1"
        )
    ]
    return problems


def _migrate_step() -> Step:
    pending = pending_migrations()
    initial = [f"{app}.0001_initial" for app in LEGACY_APPS]
    applied = [name for name in pending if name not in initial]
    return Step(
        title="Django migrations",
        details=[
            "marked as applied, their tables exist (--fake-initial): " + ", ".join(initial),
            f"applied: {len(applied)} migrations: " + ", ".join(applied),
        ],
        action=lambda: call_command("migrate", fake_initial=True, interactive=False, verbosity=0),
    )


def _opening_balance_step() -> Step:
    n, total = fetch(
        "SELECT count(*), coalesce(sum(round(coins::text::numeric, 2)), 0) FROM user_balances "
        "WHERE round(coins::text::numeric, 2) <> 0"
    )[0]
    return Step(
        title="Ledger: opening balances",
        details=[
            f"one opening_balance entry for each of {n} users with a non-zero balance (sum {total})",
            "then every balance is checked against the ledger before the commit (a mismatch rolls everything back)",
        ],
        action=lambda: ledger_record_opening_balances(created_by=OPENING_BALANCE_AUTHOR),
    )
