"""Failed updates in the admin: read-only rows; "handle again" runs the update through the bot once more (so it needs
``billing.adjust_balance``: the update may be a payment) and "mark resolved" closes one."""

from decimal import Decimal

import pytest
from django.db import OperationalError
from django.urls import reverse

from billing.models import Transaction
from botworker.failed_updates import failed_update_record
from botworker.models import FailedUpdate, FailedUpdateResolution
from payments.invoices import Invoice
from payments.models import TopUpPackage
from tests.support import updates
from tests.support.faults import failing_writes

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "admin:botworker_failedupdate_changelist"


@pytest.fixture
def failed_payment(make_user):
    """A Stars payment that the poller gave up on while the database was failing."""
    user = make_user(telegram_id=6401)
    package = TopUpPackage.objects.create(title="Старт", stars=50, credits=Decimal("100"))
    payload = Invoice(telegram_user_id=user.telegram_id, package_id=package.pk, stars=50).payload()
    update = dict(updates.successful_payment(user.telegram_id, payload=payload, total_amount=50, charge_id="ch-6401"),
                  update_id=6401)
    return failed_update_record(update_id=6401, payload=update, update_type="message", telegram_user_id=6401,
                                error=OperationalError("server closed the connection unexpectedly"), attempts=5)


def act(client, action: str, row: FailedUpdate):
    return client.post(reverse(CHANGELIST), {"action": action, "_selected_action": [row.pk]}, follow=True)


def credited() -> int:
    return Transaction.objects.filter(idempotency_key="stars:ch-6401").count()


def test_the_rows_are_read_only_even_for_a_superuser(admin_client, failed_payment):
    change = reverse("admin:botworker_failedupdate_change", args=[failed_payment.pk])
    page = admin_client.get(change)
    assert page.status_code == 200 and b"server closed the connection unexpectedly" in page.content
    assert admin_client.post(change, {"attempts": "0"}).status_code == 403
    assert admin_client.get(reverse("admin:botworker_failedupdate_add")).status_code == 403
    assert admin_client.post(reverse("admin:botworker_failedupdate_delete", args=[failed_payment.pk]),
                             {"post": "yes"}).status_code == 403
    assert FailedUpdate.objects.get().attempts == 5


def test_handle_again_needs_adjust_balance_and_credits_the_payment_once_with_its_receipt(
        staff_client, failed_payment, api):
    client = staff_client("botworker.view_failedupdate", "botworker.change_failedupdate")
    page = client.get(reverse(CHANGELIST))
    assert b"mark_resolved" in page.content and b"handle_again" not in page.content
    act(client, "handle_again", failed_payment)  # posted directly all the same
    assert credited() == 0 and FailedUpdate.objects.get().resolved_at is None

    client = staff_client("botworker.view_failedupdate", "botworker.change_failedupdate", "billing.adjust_balance",
                          username="cashier")
    act(client, "handle_again", failed_payment)
    row = FailedUpdate.objects.get()
    assert credited() == 1
    assert (row.resolution, row.resolved_by) == (FailedUpdateResolution.HANDLED, "cashier")
    assert [c for c in api.calls_of("sendMessage") if "Оплата получена" in c.text]
    act(client, "handle_again", failed_payment)
    assert credited() == 1
    assert len([c for c in api.calls_of("sendMessage") if "Оплата получена" in c.text]) == 1


def test_handle_again_that_fails_again_updates_the_row_and_leaves_it_open(admin_client, failed_payment, api):
    with failing_writes("transactions"):
        act(admin_client, "handle_again", failed_payment)
    row = FailedUpdate.objects.get()
    assert row.resolved_at is None and row.attempts == 6 and "test fault on transactions" in row.error_message
    assert credited() == 0


def test_mark_resolved_closes_the_row_without_handling_it(staff_client, failed_payment, api):
    client = staff_client("botworker.view_failedupdate", "botworker.change_failedupdate")
    act(client, "mark_resolved", failed_payment)
    row = FailedUpdate.objects.get()
    assert (row.resolution, row.resolved_by) == (FailedUpdateResolution.MARKED, "operator")
    assert credited() == 0 and api.calls == []
