"""Stars money end to end: refunds from the admin, refunds made outside the bot, reconciliation with Telegram."""

import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections
from django.urls import reverse

from accounts.models import User
from billing import stars
from billing.exceptions import InsufficientFunds
from billing.models import TopUpPackage, Transaction, TransactionType
from billing.selectors import balance_get, ledger_mismatches, reversal_live
from billing.services import balance_credit, balance_debit
from tests.support import updates


def _stars_topup(user, charge_id: str, coins="100", stars_paid=50, payload="topup:1:1:50:-") -> Transaction:
    return balance_credit(
        user=user, amount=coins, type=TransactionType.TOPUP, idempotency_key=f"stars:{charge_id}",
        created_by="telegram", extra_data={"telegram_payment_charge_id": charge_id, "invoice_payload": payload,
                                           "stars": stars_paid, "package_id": None,
                                           "telegram_user_id": user.telegram_id})


def _reversals(entry) -> list[Transaction]:
    return list(Transaction.objects.filter(refund_of=entry))


# --- refunds from the admin -------------------------------------------------------------------------------------
def test_an_operator_refund_asks_telegram_then_reverses_the_credit_once(api, make_user):
    user = make_user()
    entry = _stars_topup(user, "ch-1")
    reversal = stars.stars_payment_refund(entry=entry, created_by="op")
    call = api.wait_for("refundStarPayment")
    assert (int(call.data["user_id"]), call.data["telegram_payment_charge_id"]) == (user.telegram_id, "ch-1")
    assert reversal.type == TransactionType.PAYMENT_REFUND and reversal.amount == Decimal("-100")
    assert balance_get(user=user) == 0
    assert stars.stars_payment_refund(entry=entry, created_by="op") == reversal
    assert len(api.calls_of("refundStarPayment")) == 1  # the second click does not ask Telegram again


def test_telegrams_already_refunded_answer_counts_as_success(api, make_user):
    user = make_user()
    entry = _stars_topup(user, "ch-2")
    api.fail("refundStarPayment", 400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    stars.stars_payment_refund(entry=entry, created_by="op")
    assert _reversals(entry) and balance_get(user=user) == 0


def test_a_refund_telegram_refuses_gives_the_coins_back_once(api, make_user):
    user = make_user()
    entry = _stars_topup(user, "ch-3")
    api.fail("refundStarPayment", 400, "Bad Request: CHARGE_NOT_FOUND")
    with pytest.raises(stars.StarsAPIError, match="CHARGE_NOT_FOUND"):
        stars.stars_payment_refund(entry=entry, created_by="op")
    [taken] = _reversals(entry)
    [given_back] = _reversals(taken)  # the coins went first, and came back once
    assert (taken.amount, given_back.amount) == (Decimal("-100"), Decimal("100"))
    assert balance_get(user=user) == 100 and reversal_live(entry=entry) is None
    assert not ledger_mismatches().exists()
    entry.refresh_from_db()
    assert not entry.extra_data[stars.PENDING_FLAG]
    # Telegram takes the next request: the payment is reversed again (the undo's reversal), once.
    reversal = stars.stars_payment_refund(entry=entry, created_by="op")
    assert reversal.refund_of == given_back and reversal_live(entry=entry) == reversal
    assert balance_get(user=user) == 0
    assert stars.stars_payment_refund(entry=entry, created_by="op") == reversal
    assert len(api.calls_of("refundStarPayment")) == 2 and not ledger_mismatches().exists()


@pytest.mark.parametrize("status, description", [(500, "Internal Server Error"), (429, "Too Many Requests")])
def test_a_refund_telegram_does_not_answer_keeps_the_coins_taken_until_it_confirms(
        api, make_user, admin_client, status, description):
    user = make_user()
    entry = _stars_topup(user, "ch-6")
    api.fail("refundStarPayment", status, description)
    with pytest.raises(stars.RefundUnconfirmed):
        stars.stars_payment_refund(entry=entry, created_by="op")
    entry.refresh_from_db()
    assert entry.extra_data[stars.PENDING_FLAG] is True and balance_get(user=user) == 0
    assert len(_reversals(entry)) == 1  # it may have refunded: nothing is given back on a guess
    page = admin_client.get(reverse("admin:billing_transaction_change", args=[entry.pk]))
    assert b"refund-stars-form" in page.content  # the operator asks again
    api.fail("refundStarPayment", 400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    reversal = stars.stars_payment_refund(entry=entry, created_by="op")
    entry.refresh_from_db()
    assert reversal == _reversals(entry)[0] and not entry.extra_data[stars.PENDING_FLAG]
    assert balance_get(user=user) == 0 and not ledger_mismatches().exists()
    page = admin_client.get(reverse("admin:billing_transaction_change", args=[entry.pk]))
    assert b"refund-stars-form" not in page.content


@pytest.mark.django_db(transaction=True)
def test_the_coins_are_taken_back_before_telegram_is_asked_so_they_cannot_be_spent_meanwhile(api, make_user):
    user = make_user()
    entry = _stars_topup(user, "ch-7")
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
    reversal = stars.stars_payment_refund(entry=entry, created_by="op")
    assert isinstance(spent[0], InsufficientFunds)
    assert reversal.amount == Decimal("-100") and balance_get(user=user) == 0
    entry.refresh_from_db()
    assert not entry.extra_data.get(stars.UNREVERSED_FLAG) and not ledger_mismatches().exists()


def test_no_coins_move_when_the_bot_has_no_token(api, make_user, settings):
    settings.BOT_TOKEN = ""
    user = make_user()
    entry = _stars_topup(user, "ch-8")
    with pytest.raises(stars.StarsAPIError, match="BOT_TOKEN"):
        stars.stars_payment_refund(entry=entry, created_by="op")
    assert not _reversals(entry) and balance_get(user=user) == 100


def test_a_refund_whose_coins_were_spent_is_refused_before_asking_telegram(api, make_user):
    user = make_user()
    entry = _stars_topup(user, "ch-4")
    balance_debit(user=user, amount="60")
    with pytest.raises(InsufficientFunds):
        stars.stars_payment_refund(entry=entry, created_by="op")
    assert api.calls_of("refundStarPayment") == []
    assert not _reversals(entry) and balance_get(user=user) == 40


def test_a_bot_api_that_is_down_is_a_clear_error(settings, make_user):
    settings.BOT_TOKEN, settings.BOT_API_URL = "1:x", "http://127.0.0.1:9"
    entry = _stars_topup(make_user(), "ch-5")
    with pytest.raises(stars.StarsAPIError, match="cannot reach the Bot API"):
        stars.stars_payment_refund(entry=entry, created_by="op")


# --- refunded_payment service messages --------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_refunded_payment_delivered_twice_reverses_the_credit_once(bot_env):
    user = await bot_env.orm(User.objects.create, telegram_id=555001, first_name="A")
    entry = await bot_env.orm(_stars_topup, user, "ch-r1")
    # Two deliveries of the refund (two service messages, as a re-sent update would be).
    bot_env.feed(*(updates.refunded_payment(555001, payload="topup:555001:1:50:-", total_amount=50,
                                            charge_id="ch-r1") for _ in range(2)))
    await bot_env.idle()
    reversals = await bot_env.orm(_reversals, entry)
    assert len(reversals) == 1 and reversals[0].amount == Decimal("-100")
    assert await bot_env.orm(balance_get, user=user) == 0


@pytest.mark.django_db(transaction=True)
async def test_a_refund_of_spent_coins_is_flagged_not_pushed_below_zero(bot_env):
    user = await bot_env.orm(User.objects.create, telegram_id=555002, first_name="B")
    entry = await bot_env.orm(_stars_topup, user, "ch-r2")
    await bot_env.orm(balance_debit, user=user, amount="30")
    bot_env.feed(updates.refunded_payment(555002, payload="x", total_amount=50, charge_id="ch-r2"))
    await bot_env.idle()
    await bot_env.orm(entry.refresh_from_db)
    assert entry.extra_data[stars.UNREVERSED_FLAG] is True
    assert await bot_env.orm(balance_get, user=user) == 70
    assert not await bot_env.orm(_reversals, entry)


# --- reconciliation ---------------------------------------------------------------------------------------------
def _payment(charge_id, user_id, stars_paid, payload="") -> dict:
    return {"id": charge_id, "amount": stars_paid, "date": 1_700_000_000,
            "source": {"type": "user", "transaction_type": "invoice_payment",
                       "user": {"id": user_id, "is_bot": False, "first_name": f"P{user_id}"},
                       "invoice_payload": payload}}


def _refund(charge_id, user_id, stars_paid) -> dict:
    return {"id": charge_id, "amount": stars_paid, "date": 1_700_000_100,
            "receiver": {"type": "user", "user": {"id": user_id, "is_bot": False, "first_name": "R"}}}


@pytest.fixture
def star_history(api):
    """Telegram's list, served page by page like getStarTransactions: 105 withdrawals first, so the payments
    that matter are only on the second page."""
    history = [{"id": f"w{i}", "amount": 1, "date": 1, "receiver": {"type": "fragment"}} for i in range(105)]

    def serve(data):
        offset, limit = int(data.get("offset") or 0), int(data.get("limit") or 100)
        assert limit <= 100
        return {"transactions": history[offset:offset + limit]}

    api.results["getStarTransactions"] = serve
    return history


def test_reconciliation_reports_then_fixes_missing_refunded_and_unknown_payments(api, star_history, make_user):
    package = TopUpPackage.objects.create(title="Big", stars=100, credits=Decimal("300"), bonus_credits=Decimal("20"))
    known, refunded_user, payer = make_user(), make_user(), make_user()
    in_both = _stars_topup(known, "both")
    only_ledger = _stars_topup(known, "ledger-only")
    refunded = _stars_topup(refunded_user, "refunded")
    star_history += [
        _payment("both", known.telegram_id, 50),
        _payment("missing-pkg", payer.telegram_id, 100, f"topup:{payer.telegram_id}:{package.pk}:100:-"),
        _payment("missing-raw", 990_001, 77, "something else"),
        _payment("refunded", refunded_user.telegram_id, 50), _refund("refunded", refunded_user.telegram_id, 50),
        _payment("gone", 990_002, 10), _refund("gone", 990_002, 10),
    ]

    report = stars.stars_reconcile(fix=False)
    assert [p.charge_id for p in report.missing] == ["missing-pkg", "missing-raw"]
    assert report.unknown == [only_ledger] and report.refunds_not_reversed == [refunded]
    assert [p.charge_id for p in report.refunded_never_credited] == ["gone"]
    assert Transaction.objects.count() == 3 and not User.objects.filter(telegram_id=990_001).exists()
    assert [int(c.data["offset"]) for c in api.calls_of("getStarTransactions")] == [0, 100]

    out = StringIO()
    call_command("reconcile_stars", "--fix", stdout=out)
    text = out.getvalue()
    assert "CREDITED charge=missing-pkg" in text and "REVERSED charge=refunded" in text
    assert "UNKNOWN-TO-TELEGRAM charge=ledger-only" in text

    credit = Transaction.objects.get(idempotency_key="stars:missing-pkg")
    assert credit.user == payer and credit.amount == Decimal("320") and credit.extra_data["reconciled"] is True
    raw = Transaction.objects.get(idempotency_key="stars:missing-raw")
    assert raw.amount == Decimal("77") and raw.user.telegram_id == 990_001  # 1 coin per Star, payer created
    assert _reversals(refunded) and balance_get(user=refunded_user) == 0
    only_ledger.refresh_from_db()
    assert only_ledger.extra_data[stars.UNKNOWN_FLAG] is True and balance_get(user=known) == 200  # not removed
    assert not _reversals(in_both) and not Transaction.objects.filter(idempotency_key="stars:gone").exists()

    again = stars.stars_reconcile(fix=True)
    assert again.missing == [] and again.refunds_not_reversed == [] and again.credited == []
    assert again.unknown == [only_ledger]
    assert Transaction.objects.filter(idempotency_key__startswith="stars:missing").count() == 2

    star_history.append(_payment("ledger-only", known.telegram_id, 50))  # Telegram lists it after all
    assert stars.stars_reconcile(fix=True).clean
    only_ledger.refresh_from_db()
    assert only_ledger.extra_data[stars.UNKNOWN_FLAG] is False
