"""Adopting a PostgreSQL database of the Alembic-era service (``../shared/legacy-schema.md``).

A deployment tool, not a business service, so it may look at every app's models. The plan is computed from the
database's catalogue and the state of each legacy app's ``0001_initial`` migration: whatever differs between a
legacy column and the column that migration would create becomes one conversion. Applying the plan runs every
conversion, Django's migrations (``--fake-initial``) and the opening balances of the ledger in ONE transaction;
PostgreSQL's DDL is transactional, so any failure leaves the database exactly as it was.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

# Apps whose 0001_initial creates exactly their legacy tables.
LEGACY_APPS = ("accounts", "billing", "promocodes", "generations")
# Tables of the old service this project does not own: left exactly as they are.
FOREIGN_TABLES = ("alembic_version", "user_transcripts", "user_transcript_cache")
# Legacy indexes that a later migration replaces with this project's constraint of the same rule.
REPLACED_INDEXES = {"idx_avatars_user_main_unique": "avatars_one_main_per_user"}
OPENING_BALANCE_AUTHOR = "adopt_legacy_db"
NON_FINITE = "('NaN', 'Infinity', '-Infinity')"


class AdoptionRefused(Exception):
    """The database is not one this command can adopt, or holds rows it cannot convert; nothing was changed."""

    def __init__(self, title: str, problems: list[str]):
        self.problems = problems
        super().__init__(title + "\n" + "\n".join(f"  - {problem}" for problem in problems))


class LedgerMismatch(Exception):
    """After the adoption's steps some balance differs from the sum of its ledger entries (rolled back)."""


class InjectedFailure(Exception):
    """Raised by the hidden ``--fail-after-step`` option, to prove that a failure changes nothing."""


@dataclass
class Column:
    type: str
    not_null: bool
    default: str | None
    is_enum: bool


@dataclass
class Step:
    title: str
    details: list[str] = field(default_factory=list)
    sql: list[tuple[str, list]] = field(default_factory=list)
    action: Callable[[], None] | None = None

    def run(self) -> None:
        with connection.cursor() as cursor:
            for statement, params in self.sql:
                cursor.execute(statement, params or None)
        if self.action is not None:
            self.action()


@dataclass
class Plan:
    alembic_version: str
    steps: list[Step]
    changed_rows: list[str]
    untouched: list[str]
    notes: list[str]


def q(name: str) -> str:
    """A quoted identifier. Names come from the catalogue, so an embedded '"' is doubled (Django's quote_name
    does not escape it)."""
    return '"' + name.replace('"', '""') + '"'


def _fetch(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or None)
        return cursor.fetchall()


# --- What the database holds -------------------------------------------------------------------------------

def _db_columns() -> dict[str, dict[str, Column]]:
    rows = _fetch(
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


def _db_constraints(table: str) -> list[dict]:
    rows = _fetch(
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


def _db_indexes(table: str) -> list[dict]:
    rows = _fetch(
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


def _count(table: str, where: str = "TRUE") -> int:
    return _fetch(f"SELECT count(*) FROM {q(table)} WHERE {where}")[0][0]


# --- What this project expects -------------------------------------------------------------------------------

def legacy_models() -> list:
    """The models of the legacy tables as each app's 0001_initial creates them (not as they are today)."""
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    state = loader.project_state([(app, "0001_initial") for app in LEGACY_APPS])
    return sorted(
        (model for model in state.apps.get_models() if model._meta.app_label in LEGACY_APPS),
        key=lambda model: model._meta.db_table,
    )


def _expected_type(field_) -> str:
    db_type = field_.db_type(connection).replace(", ", ",")
    return re.sub(r"^varchar\((\d+)\)$", r"character varying(\1)", db_type)


def _tables_django_creates(legacy_tables: set[str]) -> set[str]:
    tables = set(connection.introspection.django_table_names(only_existing=False, include_views=False))
    return (tables | {"django_migrations"}) - legacy_tables


def _ignored_django_tables(columns: dict[str, dict[str, Column]]) -> set[str]:
    """An EMPTY django_migrations is what a `migrate` that failed on the legacy tables leaves behind (Django
    creates it outside any transaction before accounts.0001_initial fails): it records nothing, so it counts as
    absent and `migrate --fake-initial` fills it. One with rows means Django's migrations ran here: refused."""
    if "django_migrations" in columns and not _count("django_migrations"):
        return {"django_migrations"}
    return set()


def _later_columns(models) -> dict[str, set[str]]:
    """Columns of legacy tables that later migrations add (they must not exist yet)."""
    from django.apps import apps

    initial = {m._meta.db_table: {f.column for f in m._meta.local_fields} for m in models}
    later: dict[str, set[str]] = {}
    for model in apps.get_models():
        table = model._meta.db_table
        if table in initial:
            later[table] = {f.column for f in model._meta.local_fields if f.column} - initial[table]
    return later


# --- Building the plan ---------------------------------------------------------------------------------------

def adoption_state() -> str:
    """``adopted`` (Django's migrations are recorded), ``legacy`` (Alembic-era tables) or ``empty``."""
    tables = set(connection.introspection.table_names())
    if "django_migrations" in tables and _fetch(
        "SELECT 1 FROM django_migrations WHERE app = 'accounts' AND name = '0001_initial'"
    ):
        return "adopted"
    legacy = {m._meta.db_table for m in legacy_models()}
    return "legacy" if tables & (legacy | {"alembic_version"}) else "empty"


def pending_migrations(*, non_atomic_only: bool = False) -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _backwards in plan if not (non_atomic_only and m.atomic)]


def build_plan() -> Plan:
    """Inspect the database (reads only) and return every step of the adoption, or raise ``AdoptionRefused``."""
    models = legacy_models()
    legacy_tables = {m._meta.db_table for m in models}
    columns = _db_columns()
    differences = _schema_differences(models, columns)
    if differences:
        raise AdoptionRefused("This is not the Alembic-era schema this command knows; nothing was changed:",
                              differences)
    non_atomic = pending_migrations(non_atomic_only=True)
    if non_atomic:
        raise AdoptionRefused("These migrations cannot run inside one transaction (atomic = False); adopt with "
                              "the release before them, then run `migrate`:", non_atomic)
    blockers: list[str] = []
    changed_rows: list[str] = []
    steps: list[Step] = []
    for model in models:
        step = _table_step(model, columns[model._meta.db_table], blockers, changed_rows)
        if step.sql:
            steps.append(step)
    for model in models:
        step = _constraint_step(model)
        if step.sql:
            steps.append(step)
    blockers += _constraint_blockers(models)
    if blockers:
        raise AdoptionRefused("Some rows cannot be converted; nothing was changed. Fix them and run again:", blockers)
    steps.append(_migrate_step())
    steps.append(_opening_balance_step())
    untouched = [
        f"{table} ({_count(table)} rows)" for table in sorted(set(columns) - legacy_tables)
        if table not in _tables_django_creates(legacy_tables)
    ]
    extra = [
        f"{table}.{name} is not used by this project and is kept as it is"
        for model in models for table in [model._meta.db_table]
        for name in sorted(set(columns[table]) - {f.column for f in model._meta.local_fields})
    ]
    version = _fetch("SELECT version_num FROM alembic_version")
    return Plan(
        alembic_version=", ".join(v for (v,) in version) or "(empty)",
        steps=steps, changed_rows=changed_rows, untouched=untouched, notes=extra,
    )


def _schema_differences(models, columns: dict[str, dict[str, Column]]) -> list[str]:
    legacy_tables = {m._meta.db_table for m in models}
    problems = []
    if "alembic_version" not in columns:
        problems.append("table alembic_version is missing (an Alembic-era database has it)")
    for table in sorted((_tables_django_creates(legacy_tables) & set(columns)) - _ignored_django_tables(columns)):
        problems.append(f"table {table} already exists, but this project's migrations create it")
    later = _later_columns(models)
    for model in models:
        table = model._meta.db_table
        if table not in columns:
            problems.append(f"table {table} is missing")
            continue
        for field_ in model._meta.local_fields:
            actual = columns[table].get(field_.column)
            if actual is None:
                problems.append(f"column {table}.{field_.column} is missing")
            elif _conversion(actual, _expected_type(field_)) is None:
                problems.append(
                    f"column {table}.{field_.column} is {actual.type}; cannot convert it to {_expected_type(field_)}"
                )
        known = {f.column for f in model._meta.local_fields}
        for name, column in sorted(columns[table].items()):
            if name in later.get(table, set()):
                problems.append(f"column {table}.{name} already exists, but this project's migrations add it")
            elif name not in known and column.not_null and column.default is None:
                problems.append(f"column {table}.{name} is unknown and NOT NULL without a default")
    return problems


def _conversion(actual: Column, target: str) -> str | None:
    """The USING expression (``{c}`` stands for the column) that turns the legacy type into ours; None: can't."""
    if actual.type == target:
        return "{c}"
    varchar = re.fullmatch(r"character varying\((\d+)\)", target)
    if actual.is_enum and varchar:
        return "lower({c}::text)"
    if actual.type.startswith("character varying") and target == "bigint":
        return "{c}::bigint"
    if actual.type.startswith("character varying") and varchar:
        return "{c}"
    if actual.type in ("double precision", "real", "integer", "bigint") and target.startswith("numeric("):
        scale = int(re.fullmatch(r"numeric\(\d+,(\d+)\)", target).group(1))
        return f"round({{c}}::text::numeric, {scale})"
    if actual.type == "json" and target == "jsonb":
        return "{c}::jsonb"
    if actual.type == "timestamp without time zone" and target == "timestamp with time zone":
        return "{c} AT TIME ZONE 'UTC'"
    return None


def _table_step(model, actual_columns: dict[str, Column], blockers: list[str], changed_rows: list[str]) -> Step:
    table = model._meta.db_table
    pk = model._meta.pk.column
    step = Step(title=f"{table} ({_count(table)} rows): convert columns")
    drop_defaults, types, values, nulls = [], [], [], []
    for field_ in model._meta.local_fields:
        column, actual, target = field_.column, actual_columns[field_.column], _expected_type(field_)
        c = q(column)
        if actual.default is not None:
            drop_defaults.append(f"ALTER COLUMN {c} DROP DEFAULT")
        lower = _lower_cased(field_, actual, target)
        if actual.type != target:
            if lower:
                using = "lower({c}::text)"
            else:
                using = "{c}::text" if actual.is_enum else _conversion(actual, target)
            using = using.format(c=c)
            types.append(f"ALTER COLUMN {c} TYPE {target} USING {using}")
            step.details.append(
                f"{column}: {actual.type} -> {target}"
                f" ({_count(table, f'{c} IS NOT NULL')} values, USING {using.replace(c, column)})"
            )
            _type_checks(table, pk, column, target, blockers, changed_rows)
        if field_.choices:
            _choice_checks(table, pk, field_, lower, blockers)
        if lower:
            spellings = _fetch(
                f"SELECT {c}::text, lower({c}::text), count(*) FROM {q(table)} WHERE {c}::text <> lower({c}::text) "
                "GROUP BY 1, 2 ORDER BY 1"
            )
            step.details += [f"{column}: {old!r} -> {new!r} in {count} rows" for old, new, count in spellings]
            if spellings and actual.type == target:
                values.append((f"UPDATE {q(table)} SET {c} = lower({c}) WHERE {c} <> lower({c})", []))
        if not field_.null and not actual.not_null:
            nulls_count = _count(table, f"{c} IS NULL")
            if nulls_count and not field_.has_default():
                blockers.append(f"{table}.{column}: {nulls_count} NULL values and no default to replace them")
            elif nulls_count:
                default = field_.get_default()
                default = str(default) if isinstance(default, str) else default  # a TextChoices member
                values.append((f"UPDATE {q(table)} SET {c} = %s WHERE {c} IS NULL", [default]))
                step.details.append(f"{column}: {nulls_count} NULL values -> {default!r}, then NOT NULL")
            else:
                step.details.append(f"{column}: NOT NULL (no NULL values)")
            nulls.append(f"ALTER COLUMN {c} SET NOT NULL")
        elif field_.null and actual.not_null:
            nulls.append(f"ALTER COLUMN {c} DROP NOT NULL")
    if drop_defaults:
        step.details.append(f"database defaults dropped on {len(drop_defaults)} columns (the models set values)")
    for clauses in (drop_defaults, types):
        if clauses:
            step.sql.append((f"ALTER TABLE {q(table)} " + ", ".join(clauses), []))
    step.sql += values
    if nulls:
        step.sql.append((f"ALTER TABLE {q(table)} " + ", ".join(nulls), []))
    return step


def _lower_case_choices(field_) -> bool:
    return all(str(value) == str(value).lower() for value, _label in field_.flatchoices)


def _lower_cased(field_, actual: Column, target: str) -> bool:
    """Whether the legacy values are lower-cased: enums (both spellings), and text choice columns whose choices
    are all lower case, whatever the legacy column's type or length."""
    if not re.fullmatch(r"character varying\(\d+\)", target):
        return False
    if field_.choices:
        return _lower_case_choices(field_)
    return actual.is_enum


def _choice_checks(table: str, pk: str, field_, lower: bool, blockers: list[str]) -> None:
    """Refuse a value outside the field's choices (compared lower-cased when adoption lower-cases it)."""
    choices = [str(value) for value, _label in field_.flatchoices]
    c = q(field_.column)
    value = f"lower({c}::text)" if lower else f"{c}::text"
    for key, found in _fetch(
        f"SELECT {q(pk)}, {c}::text FROM {q(table)} WHERE {c} IS NOT NULL AND {value} <> ALL(%s) ORDER BY 1",
        [choices],
    ):
        blockers.append(f"{table} {pk}={key}: {field_.column} {found!r} is not one of {', '.join(choices)}")


def _type_checks(table, pk, column, target: str, blockers, changed_rows) -> None:
    """Refuse values that cannot be converted; list every row whose value changes."""
    c, t = q(column), q(table)
    varchar = re.fullmatch(r"character varying\((\d+)\)", target)
    if target == "bigint":
        for key, value in _fetch(f"SELECT {q(pk)}, {c} FROM {t} WHERE {c} !~ '^-?[0-9]{{1,18}}$' ORDER BY 1"):
            blockers.append(f"{table} {pk}={key}: {column} {value!r} is not a number")
        for key, value in _fetch(
            f"SELECT {q(pk)}, {c} FROM {t} WHERE {c} ~ '^-?[0-9]{{1,18}}$' AND {c}::bigint::text <> {c} ORDER BY 1"
        ):
            changed_rows.append(f"{table} {pk}={key}: {column} {value!r} -> {int(value)}")
    elif varchar:
        limit = int(varchar.group(1))
        for key, value in _fetch(f"SELECT {q(pk)}, {c}::text FROM {t} WHERE length({c}::text) > {limit}"):
            blockers.append(f"{table} {pk}={key}: {column} {value!r} is longer than {limit} characters")
    elif target.startswith("numeric("):
        precision, scale = map(int, re.fullmatch(r"numeric\((\d+),(\d+)\)", target).groups())
        for key, value in _fetch(
            f"SELECT {q(pk)}, {c}::text FROM {t} WHERE {c}::text IN {NON_FINITE} "
            f"OR abs({c}::text::numeric) >= 1e{precision - scale} ORDER BY 1"
        ):
            blockers.append(f"{table} {pk}={key}: {column} {value} does not fit numeric({precision},{scale})")
        for key, old, new in _fetch(
            f"SELECT {q(pk)}, {c}::text, round({c}::text::numeric, {scale})::text FROM {t} "
            f"WHERE {c} IS NOT NULL AND {c}::text NOT IN {NON_FINITE} "
            f"AND {c}::text::numeric <> round({c}::text::numeric, {scale}) ORDER BY 1"
        ):
            changed_rows.append(f"{table} {pk}={key}: {column} {old} -> {new}")


def _constraint_step(model) -> Step:
    """Unique and check constraints, foreign keys and indexes exactly as ``0001_initial`` would create them."""
    table = model._meta.db_table
    step = Step(title=f"{table}: constraints and indexes")
    constraints, indexes = _db_constraints(table), _db_indexes(table)
    names = {c["name"] for c in constraints} | {i["name"] for i in indexes}
    names_taken: set[str] = set()  # legacy indexes already renamed to one of ours
    for index in indexes:
        if index["name"] in REPLACED_INDEXES:
            step.sql.append((f"DROP INDEX {q(index['name'])}", []))
            step.details.append(
                f"drop index {index['name']}: a later migration adds {REPLACED_INDEXES[index['name']]} (same rule)"
            )
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        for field_ in model._meta.local_fields:
            _unique(step, table, field_, constraints, indexes)
            _check(step, table, field_, names)
            _foreign_key(step, editor, model, field_, constraints)
            for statement in editor._field_indexes_sql(model, field_):
                _index(step, table, field_, statement, indexes, names, names_taken)
    return step


def _unique(step: Step, table: str, field_, constraints, indexes) -> None:
    if not field_.unique or field_.primary_key:
        return
    if any(c["type"] == "u" and c["columns"] == [field_.column] for c in constraints):
        return
    name = f"{table}_{field_.column}_key"
    index = next((i for i in indexes if i["unique"] and not i["partial"] and not i["constraint"]
                  and i["columns"] == [field_.column]), None)
    if index is not None:
        step.sql.append((f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} UNIQUE USING INDEX {q(index['name'])}", []))
        step.details.append(f"unique index {index['name']} becomes constraint {name}")
    else:
        step.sql.append((f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} UNIQUE ({q(field_.column)})", []))
        step.details.append(f"add unique constraint {name}")


def _check(step: Step, table: str, field_, names: set[str]) -> None:
    check = field_.db_check(connection)
    name = f"{table}_{field_.column}_check"
    if check and name not in names:
        step.sql.append((f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} CHECK ({check})", []))
        step.details.append(f"add check {name}: {check}")


def _foreign_key(step: Step, editor, model, field_, constraints) -> None:
    if not (field_.remote_field and field_.db_constraint):
        return
    table = model._meta.db_table
    statement = editor._create_fk_sql(model, field_, "_fk_%(to_table)s_%(to_column)s")
    name = str(statement.parts["name"]).strip('"')
    existing = [c for c in constraints if c["type"] == "f" and c["columns"] == [field_.column]]
    if any(c["name"] == name and c["deferred"] for c in existing):
        return
    for constraint in existing:
        step.sql.append((f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(constraint['name'])}", []))
    step.sql.append((str(statement), []))
    step.details.append(
        f"foreign key {field_.column}: " + (f"{existing[0]['name']} -> " if existing else "") + f"{name} (deferrable)"
    )


def _index(step: Step, table: str, field_, statement, indexes, names: set[str], names_taken: set[str]) -> None:
    name = str(statement.parts["name"]).strip('"')
    if name in names:
        return
    like = name.endswith("_like")
    same = None if like else next((i for i in indexes if _plain_index_on(i, field_.column, names_taken)), None)
    if same is not None:
        names_taken.add(same["name"])
        step.sql.append((f"ALTER INDEX {q(same['name'])} RENAME TO {q(name)}", []))
        step.details.append(f"index {same['name']} renamed to {name}")
    else:
        step.sql.append((str(statement), []))
        step.details.append(f"add index {name}")


def _plain_index_on(index: dict, column: str, names_taken: set[str]) -> bool:
    """A legacy btree index on exactly this column, equivalent to the one Django would create."""
    return (
        index["columns"] == [column] and index["name"] not in names_taken and not index["unique"]
        and not index["partial"] and not index["constraint"] and " USING btree " in index["definition"]
        and "pattern_ops" not in index["definition"]
    )


def _constraint_blockers(models) -> list[str]:
    """Rows that this project's constraints (column checks, later migrations' constraints) would refuse."""
    problems = [
        f"{model._meta.db_table} {model._meta.pk.column}={key}: {field_.column} {value} breaks CHECK {check}"
        for model in models for field_ in model._meta.local_fields if (check := field_.db_check(connection))
        for key, value in _fetch(
            f"SELECT {q(model._meta.pk.column)}, {q(field_.column)} FROM {q(model._meta.db_table)} "
            f"WHERE NOT ({check}) ORDER BY 1"
        )
    ]
    problems += [
        f"user_balances id={key}: coins {coins} is negative"
        for key, coins in _fetch("SELECT id, coins::text FROM user_balances WHERE coins < 0 ORDER BY 1")
    ]
    problems += [
        f"promokodes id={key}: current_uses {used} exceeds max_uses {limit}"
        for key, used, limit in _fetch(
            "SELECT id, current_uses, max_uses FROM promokodes WHERE current_uses > max_uses ORDER BY 1"
        )
    ]
    problems += [
        f"avatars of user {user}: {count} are marked main (one is allowed)"
        for user, count in _fetch(
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
    count, total = _fetch(
        "SELECT count(*), coalesce(sum(round(coins::text::numeric, 2)), 0) FROM user_balances "
        "WHERE round(coins::text::numeric, 2) <> 0"
    )[0]

    def record():
        from billing.services import ledger_record_opening_balances

        ledger_record_opening_balances(created_by=OPENING_BALANCE_AUTHOR)

    return Step(
        title="Ledger: opening balances",
        details=[
            f"one opening_balance entry for each of {count} users with a non-zero balance (sum {total})",
            "then every balance is checked against the ledger before the commit (a mismatch rolls everything back)",
        ],
        action=record,
    )


# --- Applying the plan ---------------------------------------------------------------------------------------

def plan_apply(*, plan: Plan, report: Callable[[str], None], fail_after_step: int | None = None) -> None:
    """Run every step in one transaction; an exception anywhere rolls all of it back."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Deferred foreign-key checks would leave "pending trigger events" that forbid a later ALTER TABLE
            # in the same transaction (data migrations followed by schema changes).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for number, step in enumerate(plan.steps, 1):
            step.run()
            report(f"  [{number}/{len(plan.steps)}] {step.title}: done")
            if fail_after_step == number:
                raise InjectedFailure(f"Injected failure after step {number}.")
        _ledger_check()
        report("  Ledger: every balance matches the sum of its ledger entries")


def _ledger_check() -> None:
    """balance = sum of the ledger, checked before the commit: a mismatch raises, so nothing is adopted."""
    from billing.selectors import ledger_mismatches

    broken = list(ledger_mismatches().values_list("telegram_id", flat=True)[:21])
    if broken:
        count = ledger_mismatches().count()
        shown = ", ".join(str(telegram_id) for telegram_id in broken[:20]) + (", ..." if count > 20 else "")
        raise LedgerMismatch(f"{count} balance(s) do not match the ledger (telegram ids: {shown}).")
