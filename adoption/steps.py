"""The steps of an adoption: each legacy table's column conversions, then its constraints and indexes exactly as
``0001_initial`` would create them. Building a step only reads; running it executes its SQL."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection

from adoption.catalogue import (
    REPLACED_INDEXES, Column, count, current_field, db_constraints, db_indexes, expected_type, fetch, q,
)

NON_FINITE = "('NaN', 'Infinity', '-Infinity')"


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


def conversion(actual: Column, target: str) -> str | None:
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


# --- Columns ---------------------------------------------------------------------------------------------------

def table_step(model, actual_columns: dict[str, Column], blockers: list[str], changed_rows: list[str]) -> Step:
    table = model._meta.db_table
    pk = model._meta.pk.column
    step = Step(title=f"{table} ({count(table)} rows): convert columns")
    added, drop_defaults, types, values, nulls = [], [], [], [], []
    for field_ in model._meta.local_fields:
        column, actual, target = field_.column, actual_columns.get(field_.column), expected_type(field_)
        c = q(column)
        if actual is None:  # an unused legacy column (plan.schema_differences refused any other missing one)
            added.append(f"ADD COLUMN {c} {target} NULL")
            step.details.append(f"{column}: missing (an unused legacy column) -> added as {target}, NULL in every row")
            continue
        choices_field = current_field(table, field_)
        if actual.default is not None:
            drop_defaults.append(f"ALTER COLUMN {c} DROP DEFAULT")
        lower = _lower_cased(choices_field, actual, target)
        if actual.type != target:
            if lower:
                using = "lower({c}::text)"
            else:
                using = "{c}::text" if actual.is_enum else conversion(actual, target)
            using = using.format(c=c)
            types.append(f"ALTER COLUMN {c} TYPE {target} USING {using}")
            step.details.append(
                f"{column}: {actual.type} -> {target}"
                f" ({count(table, f'{c} IS NOT NULL')} values, USING {using.replace(c, column)})"
            )
            _type_checks(table, pk, column, target, blockers, changed_rows)
        if choices_field.choices:
            _choice_checks(table, pk, choices_field, lower, blockers)
        if lower:
            spellings = fetch(
                f"SELECT {c}::text, lower({c}::text), count(*) FROM {q(table)} WHERE {c}::text <> lower({c}::text) "
                "GROUP BY 1, 2 ORDER BY 1"
            )
            step.details += [f"{column}: {old!r} -> {new!r} in {n} rows" for old, new, n in spellings]
            if spellings and actual.type == target:
                values.append((f"UPDATE {q(table)} SET {c} = lower({c}) WHERE {c} <> lower({c})", []))
        if not field_.null and not actual.not_null:
            nulls_count = count(table, f"{c} IS NULL")
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
    for clauses in (added, drop_defaults, types):
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
    are all lower case, whatever the legacy column's type or length (a create_all database stores the enum
    members' upper-case NAMES in VARCHAR columns)."""
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
    for key, found in fetch(
        f"SELECT {q(pk)}, {c}::text FROM {q(table)} WHERE {c} IS NOT NULL AND {value} <> ALL(%s) ORDER BY 1",
        [choices],
    ):
        blockers.append(f"{table} {pk}={key}: {field_.column} {found!r} is not one of {', '.join(choices)}")


def _type_checks(table, pk, column, target: str, blockers, changed_rows) -> None:
    """Refuse values that cannot be converted; list every row whose value changes."""
    c, t = q(column), q(table)
    varchar = re.fullmatch(r"character varying\((\d+)\)", target)
    if target == "bigint":
        for key, value in fetch(f"SELECT {q(pk)}, {c} FROM {t} WHERE {c} !~ '^-?[0-9]{{1,18}}$' ORDER BY 1"):
            blockers.append(f"{table} {pk}={key}: {column} {value!r} is not a number")
        for key, value in fetch(
            f"SELECT {q(pk)}, {c} FROM {t} WHERE {c} ~ '^-?[0-9]{{1,18}}$' AND {c}::bigint::text <> {c} ORDER BY 1"
        ):
            changed_rows.append(f"{table} {pk}={key}: {column} {value!r} -> {int(value)}")
    elif varchar:
        limit = int(varchar.group(1))
        for key, value in fetch(f"SELECT {q(pk)}, {c}::text FROM {t} WHERE length({c}::text) > {limit}"):
            blockers.append(f"{table} {pk}={key}: {column} {value!r} is longer than {limit} characters")
    elif target.startswith("numeric("):
        precision, scale = map(int, re.fullmatch(r"numeric\((\d+),(\d+)\)", target).groups())
        for key, value in fetch(
            f"SELECT {q(pk)}, {c}::text FROM {t} WHERE {c}::text IN {NON_FINITE} "
            f"OR abs({c}::text::numeric) >= 1e{precision - scale} ORDER BY 1"
        ):
            blockers.append(f"{table} {pk}={key}: {column} {value} does not fit numeric({precision},{scale})")
        for key, old, new in fetch(
            f"SELECT {q(pk)}, {c}::text, round({c}::text::numeric, {scale})::text FROM {t} "
            f"WHERE {c} IS NOT NULL AND {c}::text NOT IN {NON_FINITE} "
            f"AND {c}::text::numeric <> round({c}::text::numeric, {scale}) ORDER BY 1"
        ):
            changed_rows.append(f"{table} {pk}={key}: {column} {old} -> {new}")


# --- Constraints and indexes -----------------------------------------------------------------------------------

def constraint_step(model) -> Step:
    """Unique and check constraints, foreign keys and indexes exactly as ``0001_initial`` would create them;
    whatever is missing (a create_all database lacks some indexes) is created."""
    table = model._meta.db_table
    step = Step(title=f"{table}: constraints and indexes")
    constraints, indexes = db_constraints(table), db_indexes(table)
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
