"""Refunds of Stars payments: an operator's (the coins first, then Telegram), the ones Telegram reports
(``refunded_payment``), and the promo code bonus credited with a payment, taken back with it at most once (the
code's usage stays consumed)."""

import threading
from decimal import Decimal

import pytest
from django.db import connections
from django.urls import reverse

from accounts.models import User
from billing.exceptions import InsufficientFunds
from billing.models import TransactionType
from billing.selectors import balance_get, ledger_mismatches, reversal_live
from billing.services import balance_debit
from payments.exceptions import RefundNotReversed, RefundUnconfirmed, StarsAPIError
from payments.keys import PENDING_FLAG, UNREVERSED_FLAG
from payments.services.refunds import stars_payment_refund, stars_refund_record
from promocodes.models import PromokodeUsage
from promocodes.selectors import promo_perks_pending
from tests.payments.helpers import reversals_of, stars_topup
from tests.support import updates


# --- refunds from the admin -------------------------------------------------------------------------------------
def test_an_operator_refund_asks_telegram_then_reverses_the_credit_once(api, make_user):
    user = make_user()
    entry = stars_topup(user, "ch-1")
    reversal = stars_payment_refund(entry=entry, created_by="op")
    call = api.wait_for("refundStarPayment")
    assert (int(call.data["user_id"]), call.data["telegram_payment_charge_id"]) == (user.telegram_id, "ch-1")
    assert reversal.type == TransactionType.PAYMENT_REFUND and reversal.amount == Decimal("-100")
    assert balance_get(user=user) == 0
    assert stars_payment_refund(entry=entry, created_by="op") == reversal
    assert len(api.calls_of("refundStarPayment")) == 1  # the second click does not ask Telegram again


def test_telegrams_already_refunded_answer_counts_as_success(api, make_user):
    user = make_user()
    entry = stars_topup(user, "ch-2")
    api.fail("refundStarPayment", 400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    stars_payment_refund(entry=entry, created_by="op")
    assert reversals_of(entry) and balance_get(user=user) == 0


def test_a_refund_telegram_refuses_gives_the_coins_back_once(api, make_user):
    user = make_user()
    entry = stars_topup(user, "ch-3")
    api.fail("refundStarPayment", 400, "Bad Request: CHARGE_NOT_FOUND")
    with pytest.raises(StarsAPIError, match="CHARGE_NOT_FOUND"):
        stars_payment_refund(entry=entry, created_by="op")
    [taken] = reversals_of(entry)
    [given_back] = reversals_of(taken)  # the coins went first, and came back once
    assert (taken.amount, given_back.amount) == (Decimal("-100"), Decimal("100"))
    assert balance_get(user=user) == 100 and reversal_live(entry=entry) is None
    assert not ledger_mismatches().exists()
    entry.refresh_from_db()
    assert not entry.extra_data[PENDING_FLAG]
    # Telegram takes the next request: the payment is reversed again (the undo's reversal), once.
    reversal = stars_payment_refund(entry=entry, created_by="op")
    assert reversal.refund_of == given_back and reversal_live(entry=entry) == reversal
    assert balance_get(user=user) == 0
    assert stars_payment_refund(entry=entry, created_by="op") == reversal
    assert len(api.calls_of("refundStarPayment")) == 2 and not ledger_mismatches().exists()


@pytest.mark.parametrize("status, description", [(500, "Internal Server Error"), (429, "Too Many Requests")])
def test_a_refund_telegram_does_not_answer_keeps_the_coins_taken_until_it_confirms(
        api, make_user, admin_client, status, description):
    user = make_user()
    entry = stars_topup(user, "ch-6")
    api.fail("refundStarPayment", status, description)
    with pytest.raises(RefundUnconfirmed):
        stars_payment_refund(entry=entry, created_by="op")
    entry.refresh_from_db()
    assert entry.extra_data[PENDING_FLAG] is True and balance_get(user=user) == 0
    assert len(reversals_of(entry)) == 1  # it may have refunded: nothing is given back on a guess
    page = admin_client.get(reverse("admin:billing_transaction_change", args=[entry.pk]))
    assert b"refund-stars-form" in page.content  # the operator asks again
    api.fail("refundStarPayment", 400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    reversal = stars_payment_refund(entry=entry, created_by="op")
    entry.refresh_from_db()
    assert reversal == reversals_of(entry)[0] and not entry.extra_data[PENDING_FLAG]
    assert balance_get(user=user) == 0 and not ledger_mismatches().exists()
    page = admin_client.get(reverse("admin:billing_transaction_change", args=[entry.pk]))
    assert b"refund-stars-form" not in page.content


@pytest.mark.django_db(transaction=True)
def test_the_coins_are_taken_back_before_telegram_is_asked_so_they_cannot_be_spent_meanwhile(api, make_user):
    user = make_user()
    entry = stars_topup(user, "ch-7")
    spent = []

    def refund_while_the_user_spends(data):
        # The user generates images while Telegram handles the refund (another thread: a bot worker).
        def spend():
            try:
                spent.append(balance_debit(user=user, amount="60"))
            except InsufficientFunds as error:
                spent.append(error)
            finally:
                connections.close_all()

        worker = threading.Thread(target=spend)
        worker.start()
        worker.join()
        return True

    api.results["refundStarPayment"] = refund_while_the_user_spends
    reversal = stars_payment_refund(entry=entry, created_by="op")
    assert isinstance(spent[0], InsufficientFunds)
    assert reversal.amount == Decimal("-100") and balance_get(user=user) == 0
    entry.refresh_from_db()
    assert not entry.extra_data.get(UNREVERSED_FLAG) and not ledger_mismatches().exists()


def test_no_coins_move_when_the_bot_has_no_token(api, make_user, settings):
    settings.BOT_TOKEN = ""
    user = make_user()
    entry = stars_topup(user, "ch-8")
    with pytest.raises(StarsAPIError, match="BOT_TOKEN"):
        stars_payment_refund(entry=entry, created_by="op")
    assert not reversals_of(entry) and balance_get(user=user) == 100


def test_a_refund_whose_coins_were_spent_is_refused_before_asking_telegram(api, make_user):
    user = make_user()
    entry = stars_topup(user, "ch-4")
    balance_debit(user=user, amount="60")
    with pytest.raises(InsufficientFunds):
        stars_payment_refund(entry=entry, created_by="op")
    assert api.calls_of("refundStarPayment") == []
    assert not reversals_of(entry) and balance_get(user=user) == 40


def test_a_bot_api_that_is_down_is_a_clear_error(settings, make_user):
    settings.BOT_TOKEN, settings.BOT_API_URL = "1:x", "http://127.0.0.1:9"
    entry = stars_topup(make_user(), "ch-5")
    with pytest.raises(StarsAPIError, match="cannot reach the Bot API"):
        stars_payment_refund(entry=entry, created_by="op")


# --- refunded_payment service messages --------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_refunded_payment_delivered_twice_reverses_the_credit_once(bot_env):
    user = await bot_env.orm(User.objects.create, telegram_id=555001, first_name="A")
    entry = await bot_env.orm(stars_topup, user, "ch-r1")
    # Two deliveries of the refund (two service messages, as a re-sent update would be).
    bot_env.feed(*(updates.refunded_payment(555001, payload="topup:555001:1:50:-", total_amount=50,
                                            charge_id="ch-r1") for _ in range(2)))
    await bot_env.idle()
    reversals = await bot_env.orm(reversals_of, entry)
    assert len(reversals) == 1 and reversals[0].amount == Decimal("-100")
    assert await bot_env.orm(balance_get, user=user) == 0


@pytest.mark.django_db(transaction=True)
async def test_a_refund_of_spent_coins_is_flagged_not_pushed_below_zero(bot_env):
    user = await bot_env.orm(User.objects.create, telegram_id=555002, first_name="B")
    entry = await bot_env.orm(stars_topup, user, "ch-r2")
    await bot_env.orm(balance_debit, user=user, amount="30")
    bot_env.feed(updates.refunded_payment(555002, payload="x", total_amount=50, charge_id="ch-r2"))
    await bot_env.idle()
    await bot_env.orm(entry.refresh_from_db)
    assert entry.extra_data[UNREVERSED_FLAG] is True
    assert await bot_env.orm(balance_get, user=user) == 70
    assert not await bot_env.orm(reversals_of, entry)


# --- the promo code bonus of a payment -------------------------------------------------------------------------
def _assert_bonus_usage_stays_consumed(user):
    assert PromokodeUsage.objects.get(user=user).consumed_at is not None
    assert promo_perks_pending(user=user).bonus == 0


def test_an_operator_refund_takes_back_the_payment_and_its_promo_bonus_once(api, paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    reversal = stars_payment_refund(entry=topup, created_by="op")
    assert reversal.refund_of == topup and reversal.amount == Decimal("-100")
    [bonus_reversal] = reversals_of(bonus)
    assert bonus_reversal.type == TransactionType.PAYMENT_REFUND and bonus_reversal.amount == Decimal("-30")
    assert balance_get(user=user) == 0 and not ledger_mismatches().exists()
    assert stars_payment_refund(entry=topup, created_by="op") == reversal
    assert len(reversals_of(bonus)) == 1 and len(api.calls_of("refundStarPayment")) == 1
    _assert_bonus_usage_stays_consumed(user)


def test_an_operator_refund_is_refused_before_telegram_when_the_bonus_coins_were_spent(api, paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    balance_debit(user=user, amount="10")  # 120 left: enough for the payment's 100, not for 100 + 30
    with pytest.raises(InsufficientFunds):
        stars_payment_refund(entry=topup, created_by="op")
    assert api.calls_of("refundStarPayment") == []
    assert not reversals_of(topup) and not reversals_of(bonus) and balance_get(user=user) == Decimal("120")


def test_a_refund_made_outside_the_bot_reverses_the_bonus_too_once(paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    for _ in range(2):  # refunded_payment delivered twice
        stars_refund_record(telegram_payment_charge_id="b-1")
    assert len(reversals_of(topup)) == 1 and len(reversals_of(bonus)) == 1
    assert balance_get(user=user) == 0 and not ledger_mismatches().exists()
    _assert_bonus_usage_stays_consumed(user)


def test_a_refund_whose_bonus_coins_were_spent_reverses_nothing_and_flags_the_payment(paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    balance_debit(user=user, amount="10")
    with pytest.raises(RefundNotReversed):
        stars_refund_record(telegram_payment_charge_id="b-1")
    topup.refresh_from_db()
    assert topup.extra_data[UNREVERSED_FLAG] is True
    assert not reversals_of(topup) and not reversals_of(bonus) and balance_get(user=user) == Decimal("120")


def test_a_refund_telegram_refuses_gives_back_the_payment_and_its_bonus(api, paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    api.fail("refundStarPayment", 400, "Bad Request: CHARGE_NOT_FOUND")
    with pytest.raises(StarsAPIError):
        stars_payment_refund(entry=topup, created_by="op")
    assert [e.amount for e in reversals_of(topup) + reversals_of(bonus)] == [Decimal("-100"), Decimal("-30")]
    assert [len(reversals_of(e)) for e in reversals_of(topup) + reversals_of(bonus)] == [1, 1]  # each given back once
    assert balance_get(user=user) == Decimal("130") and not ledger_mismatches().exists()
    stars_payment_refund(entry=topup, created_by="op")  # Telegram takes it now
    assert balance_get(user=user) == 0 and not ledger_mismatches().exists()
