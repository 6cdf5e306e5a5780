"""TopUpPackage and FlaggedPayment moved from billing to payments without touching their tables: the migrations run
no SQL, rows survive them both ways, and the permissions operators hold on the models follow them."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection

from payments.models import FlaggedPayment, TopUpPackage


def _sql_statements(app: str, migration: str, *, backwards: bool = False) -> list[str]:
    out = StringIO()
    call_command("sqlmigrate", app, migration, backwards=backwards, stdout=out)
    return [line for line in out.getvalue().splitlines()
            if line.strip() and not line.startswith("--") and line.strip() not in ("BEGIN;", "COMMIT;")]


@pytest.mark.django_db(transaction=True)  # SQLite's schema editor refuses to run inside a test's transaction
def test_the_move_runs_no_sql_either_way():
    for app, migration in (("billing", "0006"), ("payments", "0001")):
        for backwards in (False, True):
            assert _sql_statements(app, migration, backwards=backwards) == [], (app, migration, backwards)


def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY id")
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_rows_survive_unapplying_and_reapplying_the_move():
    TopUpPackage.objects.create(title="Kept", stars=7, credits=7)
    FlaggedPayment.objects.create(telegram_payment_charge_id="kept", payer_telegram_id=1, currency="XTR",
                                  total_amount=1, reason="test")
    before = {table: _rows(table) for table in ("topup_packages", "flagged_payments")}
    call_command("migrate", "billing", "0005", verbosity=0)  # the models are billing's again
    assert {table: _rows(table) for table in before} == before
    call_command("migrate", verbosity=0)
    assert {table: _rows(table) for table in before} == before
    assert TopUpPackage.objects.filter(title="Kept").exists()


@pytest.mark.django_db(transaction=True)
def test_permissions_granted_on_the_packages_before_the_move_hold_after_it(django_user_model):
    call_command("migrate", "billing", "0005", verbosity=0)
    # The database as the release before the move left it: the models' content types are billing's only (the
    # content types migrate's post_migrate just made for today's payments models did not exist then).
    ContentType.objects.filter(app_label="payments").delete()
    ContentType.objects.clear_cache()
    change_packages = Permission.objects.get(content_type__app_label="billing", codename="change_topuppackage")
    operator = django_user_model.objects.create_user(username="packager", password="pw", is_staff=True)
    operator.groups.add(group := Group.objects.create(name="packagers"))
    group.permissions.add(change_packages)

    call_command("migrate", verbosity=0)
    ContentType.objects.clear_cache()

    operator = django_user_model.objects.get(pk=operator.pk)  # a fresh permission cache
    assert operator.has_perm("payments.change_topuppackage")
    assert not ContentType.objects.filter(app_label="billing", model__in=("topuppackage", "flaggedpayment")).exists()
    assert ContentType.objects.get_for_model(TopUpPackage).pk == change_packages.content_type_id
