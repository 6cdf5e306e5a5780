"""Reconciliation of the ledger with Telegram's Stars transactions: what it reports and repairs, and a payment it
credited before the payment's own successful_payment arrived, which still gets its promo codes applied (discount
consumed, pending bonus credited) and is confirmed to the user, once."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from billing.services import balance_reverse_payment
from payments.invoices import invoice_for_offer
from payments.keys import UNKNOWN_FLAG
from payments.models import TopUpPackage
from payments.selectors import topup_offer_get
from payments.services.purchase import purchase_complete
from payments.services.reconcile import _credit_missing, stars_reconcile
from payments.stars_api import TelegramPayment
from promocodes.models import PromokodeType, PromokodeUsage
from promocodes.selectors import promo_perks_pending
from promocodes.services import promo_code_activate, promo_code_create
from tests.payments.helpers import (
    reversals_of, serve_star_history, stars_topup, telegram_payment, telegram_refund,
)
from tests.support import updates


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
    in_both = stars_topup(known, "both")
    only_ledger = stars_topup(known, "ledger-only")
    refunded = stars_topup(refunded_user, "refunded")
    star_history += [
        telegram_payment("both", known.telegram_id, 50),
        telegram_payment("missing-pkg", payer.telegram_id, 100, f"topup:{payer.telegram_id}:{package.pk}:100:-"),
        telegram_payment("missing-raw", 990_001, 77, "something else"),
        telegram_payment("refunded", refunded_user.telegram_id, 50), telegram_refund("refunded", refunded_user.telegram_id, 50),
        telegram_payment("gone", 990_002, 10), telegram_refund("gone", 990_002, 10),
    ]

    report = stars_reconcile(fix=False)
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
    assert reversals_of(refunded) and balance_get(user=refunded_user) == 0
    only_ledger.refresh_from_db()
    assert only_ledger.extra_data[UNKNOWN_FLAG] is True and balance_get(user=known) == 200  # not removed
    assert not reversals_of(in_both) and not Transaction.objects.filter(idempotency_key="stars:gone").exists()

    again = stars_reconcile(fix=True)
    assert again.missing == [] and again.refunds_not_reversed == [] and again.credited == []
    assert again.unknown == [only_ledger]
    assert Transaction.objects.filter(idempotency_key__startswith="stars:missing").count() == 2

    star_history.append(telegram_payment("ledger-only", known.telegram_id, 50))  # Telegram lists it after all
    assert stars_reconcile(fix=True).clean
    only_ledger.refresh_from_db()
    assert only_ledger.extra_data[UNKNOWN_FLAG] is False


def test_reconciliation_takes_back_a_bonus_an_earlier_refund_left_standing(api, paid_with_bonus):
    user, topup, bonus = paid_with_bonus
    balance_reverse_payment(entry=topup)  # refunded before bonuses were reversed: 30 coins left standing
    api.results["getStarTransactions"] = lambda data: {"transactions": [
        {"id": "b-1", "amount": 100, "date": 1, "source": {"type": "user", "transaction_type": "invoice_payment",
                                                            "user": {"id": user.telegram_id}, "invoice_payload": ""}},
        {"id": "b-1", "amount": 100, "date": 2, "receiver": {"type": "user", "user": {"id": user.telegram_id}}},
    ][int(data.get("offset") or 0):]}
    report = stars_reconcile()
    assert report.refunds_not_reversed == [topup] and not reversals_of(bonus)
    stars_reconcile(fix=True)
    assert len(reversals_of(bonus)) == 1 and len(reversals_of(topup)) == 1 and balance_get(user=user) == 0
    assert stars_reconcile().clean


@pytest.mark.django_db
def test_a_payment_credited_by_reconciliation_first_still_consumes_its_discount_and_gets_its_bonus(api, make_user):
    user = make_user()
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    promo_code_create(code="SALE20", type=PromokodeType.DISCOUNT, discount_percent=Decimal("20"))
    promo_code_create(code="PLUS30", type=PromokodeType.BONUS, bonus_amount=Decimal("30"))
    promo_code_activate(user=user, code="SALE20")
    promo_code_activate(user=user, code="PLUS30")
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    serve_star_history(api, telegram_payment("rc-1", user.telegram_id, 80, payload))

    report = stars_reconcile(fix=True, created_by="periodic")
    assert [e.amount for e in report.credited] == [Decimal("100")]  # the package, from the discounted payload
    assert promo_perks_pending(user=user).discount_percent == Decimal("20")  # not replayed by the reconciliation

    late = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=80,
                             telegram_payment_charge_id="rc-1")
    assert not late.duplicate and late.settled_late  # the bot confirms this one
    assert late.topup == report.credited[0]
    assert late.bonus.type == TransactionType.BONUS and late.bonus.idempotency_key == "promo-bonus:rc-1"
    assert late.balance == balance_get(user=user) == Decimal("130")
    assert PromokodeUsage.objects.filter(consumed_at__isnull=True).count() == 0

    again = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=80,
                              telegram_payment_charge_id="rc-1")
    assert again.duplicate and not again.settled_late and again.bonus == late.bonus
    assert balance_get(user=user) == Decimal("130") and Transaction.objects.filter(user=user).count() == 2
    assert stars_reconcile(fix=True).clean


def _reconciled_payment(make_user) -> tuple[str, int]:
    """A user with a pending bonus code whose payment the reconciliation credited first; returns its payload."""
    user = make_user(telegram_id=7301)
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    promo_code_create(code="PLUS30", type=PromokodeType.BONUS, bonus_amount=Decimal("30"))
    promo_code_activate(user=user, code="PLUS30")
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    _credit_missing(TelegramPayment(
        charge_id="rc-bot", stars=100, user={"id": 7301, "first_name": "P"}, payload=payload, date=1),
        created_by="periodic")
    return payload, user.pk


@pytest.mark.django_db(transaction=True)
async def test_a_payment_the_reconciliation_credited_first_is_confirmed_with_its_bonus_once(bot_env, make_user):
    payload, user_id = await bot_env.orm(_reconciled_payment, make_user)
    bot_env.feed(updates.successful_payment(7301, payload=payload, total_amount=100, charge_id="rc-bot"))
    done = await bot_env.wait_for("sendMessage", lambda c: "Оплата получена" in c.text)
    assert "Бонус по промокоду: +30" in done.text and "Ваш баланс: <b>130 монет" in done.text
    bot_env.feed(updates.successful_payment(7301, payload=payload, total_amount=100, charge_id="rc-bot"))
    await bot_env.idle()
    assert len(bot_env.api.calls_of("sendMessage")) == 1
    assert await bot_env.orm(balance_get, user=user_id) == Decimal("130")
    assert await bot_env.orm(lambda: Transaction.objects.filter(user_id=user_id).count()) == 2


def test_the_reconciliation_alerts_the_operators_once_about_what_it_flags(
        api, star_history, make_user, settings, django_capture_on_commit_callbacks):
    settings.ADMIN_IDS = [5001]
    package = TopUpPackage.objects.create(title="Big", stars=100, credits=Decimal("300"))
    known, payer = make_user(), make_user()
    only_ledger = stars_topup(known, "ledger-only")
    star_history.append(  # paid the wrong price: flagged, not credited
        telegram_payment("cheap", payer.telegram_id, 1, f"topup:{payer.telegram_id}:{package.pk}:100:-"))
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            stars_reconcile(fix=True)
    alerts = sorted(c.text for c in api.calls_of("sendMessage"))
    assert len(alerts) == 2 and all(int(c.data["chat_id"]) == 5001 for c in api.calls_of("sendMessage"))
    assert "cheap" in alerts[0] and f"#{only_ledger.pk}" in alerts[1] and "ledger-only" in alerts[1]
