"""``manage.py runbot`` as operators run it, with the database failing under a payment: the payment is retried and
credited once, one that keeps failing is recorded for an operator before polling moves on, and one still failing
when the worker is stopped is left to Telegram for the next start."""

import signal
import time
from decimal import Decimal

import pytest

from billing.models import Transaction
from botworker.models import FailedUpdate
from payments.invoices import Invoice
from payments.models import TopUpPackage
from tests.botworker.test_runbot import finish, runbot, to
from tests.support import updates
from tests.support.faults import failing_writes
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

QUICK_RETRIES = {"BOT_UPDATE_RETRY_DELAY": "0.05", "BOT_UPDATE_RETRY_MAX_DELAY": "0.2"}


def payment(user_id: int) -> dict:
    package = TopUpPackage.objects.create(title="Старт", stars=50, credits=Decimal("100"))
    payload = Invoice(telegram_user_id=user_id, package_id=package.pk, stars=50).payload()
    return updates.successful_payment(user_id, payload=payload, total_amount=50, charge_id=f"charge-{user_id}")


def credited(user_id: int) -> int:
    return Transaction.objects.filter(idempotency_key=f"stars:charge-{user_id}").count()


def started(api, process, user_id: int) -> None:
    """The user exists (a payment comes after /start) and the worker polls."""
    api.feed(updates.message(user_id, "/start"))
    api.wait_for("sendMessage", to(user_id, "Привет"), timeout=30)


def stop_cleanly(process) -> str:
    process.send_signal(signal.SIGTERM)
    code, _, err = finish(process)
    assert code == 0, err
    assert "Traceback" not in err
    return err


@pytest.mark.postgres
def test_runbot_retries_a_payment_that_lost_the_database_and_credits_it_once(api):
    process = runbot(api, **QUICK_RETRIES)
    try:
        started(api, process, 9201)
        with failing_writes("transactions", times=1, terminate=True) as fault:
            (update_id,) = api.feed(payment(9201))
            receipt = api.wait_for("sendMessage", to(9201, "Оплата получена"), timeout=30)
            assert fault.hits() == 1
        wait_until(lambda: api.first_confirmation_of(update_id), timeout=10, message="the offset to move on")
        assert api.first_confirmation_of(update_id) > receipt.at
    finally:
        err = stop_cleanly(process)
    assert credited(9201) == 1
    assert not FailedUpdate.objects.exists()
    assert "Update %s failed (attempt 1)" % update_id in err


def test_runbot_records_a_payment_that_keeps_failing_and_only_then_moves_on(api):
    process = runbot(api, BOT_UPDATE_ATTEMPTS="2", **QUICK_RETRIES)
    try:
        started(api, process, 9211)
        with failing_writes("transactions"):
            (update_id,) = api.feed(payment(9211))

            def recorded():
                confirmed = api.first_confirmation_of(update_id) is not None  # looked at first: the row is
                row = FailedUpdate.objects.filter(update_id=update_id).first()  # written before the offset moves
                assert row or not confirmed, "the offset moved past the update before it was recorded"
                return row

            row = wait_until(recorded, timeout=30, message="the failed update's row")
            wait_until(lambda: api.first_confirmation_of(update_id), timeout=10, message="the offset to move on")
            api.feed(updates.message(9211, "/help"))
            api.wait_for("sendMessage", to(9211, "Помощь"), timeout=30)
    finally:
        err = stop_cleanly(process)
    assert row.attempts == 2 and row.telegram_user_id == 9211 and row.error_type.startswith("django.db")
    assert credited(9211) == 0
    assert f"Update {update_id} failed 2 times" in err and "recorded as a failed update" in err


def test_a_payment_still_failing_when_runbot_stops_is_left_unconfirmed_and_credited_by_the_next_start(api):
    process = runbot(api, BOT_UPDATE_ATTEMPTS="1000", **QUICK_RETRIES)
    try:
        started(api, process, 9221)
        with failing_writes("transactions"):
            (update_id,) = api.feed(payment(9221))
            fed_at = time.monotonic()
            # Telegram answers at once while the update is unconfirmed, so the worker asks again and again while
            # it keeps failing: stop it then.
            wait_until(lambda: sum(at > fed_at and offset <= update_id for at, offset in api.offsets) >= 5,
                       timeout=30, message="the worker to hold the failing update")
            stop_cleanly(process)
        assert api.first_confirmation_of(update_id) is None  # Telegram keeps it for the next start
        assert credited(9221) == 0 and not FailedUpdate.objects.exists()
    finally:
        if process.poll() is None:
            stop_cleanly(process)

    process = runbot(api, **QUICK_RETRIES)
    try:
        api.wait_for("sendMessage", to(9221, "Оплата получена"), timeout=30)
    finally:
        stop_cleanly(process)
    assert credited(9221) == 1
