"""A ``successful_payment`` that does not match its invoice (not paid in Stars, another price, another payer) credits
nothing: it is recorded for an operator (Admin -> Flagged payments), the user is told support is checking it, and
the reconciliation never credits it."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing.models import Transaction
from payments.models import FlaggedPayment, TopUpPackage
from promocodes.models import PromokodeType, PromokodeUsage
from promocodes.services import promo_code_activate, promo_code_create
from tests.payments.test_purchase_in_bot import first_package, open_invoice, to
from tests.support import updates

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("topup_packages")]

CHECKING = "проверяет поддержка"


def _star_history(api, *items):
    api.results["getStarTransactions"] = lambda data: {"transactions": list(items)[int(data.get("offset") or 0):]}


def _telegram_payment(charge_id: str, payer: int, stars: int, payload: str) -> dict:
    return {"id": charge_id, "amount": stars, "date": 1_700_000_000,
            "source": {"type": "user", "transaction_type": "invoice_payment",
                       "user": {"id": payer, "is_bot": False, "first_name": "P"}, "invoice_payload": payload}}


@pytest.mark.parametrize("case", ["currency", "price", "payer"])
async def test_a_payment_that_does_not_match_its_invoice_credits_nothing_and_is_flagged_once(bot_env, case):
    uid, charge_id = 6401, f"ch-flag-{case}"
    package = await bot_env.orm(first_package)
    payload = (await open_invoice(bot_env, uid, package)).data["payload"]
    payer, stars, currency = uid, package.stars, "XTR"
    if case == "currency":
        currency = "USD"
    elif case == "price":
        stars = 1
    else:
        payer = 6402
        bot_env.feed(updates.message(payer, "/start"))
        await bot_env.wait_for("sendMessage", to(payer))
    payment = updates.successful_payment(payer, payload=payload, total_amount=stars, charge_id=charge_id,
                                         currency=currency)
    bot_env.feed(payment)
    told = await bot_env.wait_for("sendMessage", to(payer, CHECKING))
    assert "/paysupport" in told.text
    bot_env.feed(updates.successful_payment(payer, payload=payload, total_amount=stars, charge_id=charge_id,
                                            currency=currency))  # delivered again
    await bot_env.idle()

    assert not await bot_env.orm(Transaction.objects.exists)
    flagged = await bot_env.orm(FlaggedPayment.objects.get)
    assert (flagged.telegram_payment_charge_id, flagged.payer_telegram_id, flagged.payload, flagged.currency,
            flagged.total_amount) == (charge_id, payer, payload, currency, stars)
    assert flagged.reason and flagged.created_at
    assert len(bot_env.api.calls_of("sendMessage")) == (2 if case == "payer" else 1)  # told once


async def test_a_flagged_payment_consumes_no_discount_and_no_bonus(bot_env):
    uid = 6403
    package = await bot_env.orm(first_package)
    bot_env.feed(updates.message(uid, "/start"))
    await bot_env.wait_for("sendMessage", to(uid))

    def give_a_bonus():
        from accounts.models import User

        promo_code_create(code="PLUS5", type=PromokodeType.BONUS, bonus_amount=5)
        promo_code_activate(user=User.objects.get(telegram_id=uid), code="PLUS5")

    await bot_env.orm(give_a_bonus)
    payload = (await open_invoice(bot_env, uid, package)).data["payload"]
    bot_env.feed(updates.successful_payment(uid, payload=payload, total_amount=package.stars + 1, charge_id="ch-b"))
    await bot_env.wait_for("sendMessage", to(uid, CHECKING))
    assert await bot_env.orm(PromokodeUsage.objects.filter(consumed_at__isnull=True).count) == 1
    assert not await bot_env.orm(Transaction.objects.filter(user__telegram_id=uid).exclude(
        idempotency_key__startswith="promo").exists)


def test_reconciliation_never_credits_a_flagged_payment_and_reports_it(api, db):
    package = TopUpPackage.objects.filter(is_active=True).first()
    FlaggedPayment.objects.create(telegram_payment_charge_id="ch-f1", payer_telegram_id=777, payload="x",
                                  currency="XTR", total_amount=1, reason="paid 1 XTR, the invoice's price is 150")
    _star_history(
        api,
        _telegram_payment("ch-f1", 777, 1, f"topup:777:{package.pk}:150:-"),      # flagged at delivery
        _telegram_payment("ch-f2", 778, package.stars, f"topup:779:{package.pk}:{package.stars}:-"),  # never seen
        _telegram_payment("ch-ok", 780, package.stars, f"topup:780:{package.pk}:{package.stars}:-"),
    )
    out = StringIO()
    call_command("reconcile_stars", "--fix", stdout=out)
    text = out.getvalue()
    assert "FLAGGED charge=ch-f1" in text and "FLAGGED charge=ch-f2" in text and "CREDITED charge=ch-ok" in text
    assert list(Transaction.objects.values_list("idempotency_key", flat=True)) == ["stars:ch-ok"]
    assert FlaggedPayment.objects.get(telegram_payment_charge_id="ch-f2").payer_telegram_id == 778
    again = StringIO()
    call_command("reconcile_stars", "--fix", stdout=again)
    assert "FLAGGED charge=ch-f1" in again.getvalue() and Transaction.objects.count() == 1


def test_operators_see_flagged_payments_read_only(admin_client, db):
    flagged = FlaggedPayment.objects.create(telegram_payment_charge_id="ch-seen", payer_telegram_id=42, payload="p",
                                            currency="USD", total_amount=5, reason="paid in 'USD', not XTR")
    listing = admin_client.get(reverse("admin:payments_flaggedpayment_changelist"), {"q": "ch-seen"})
    assert listing.status_code == 200 and b"ch-seen" in listing.content
    assert admin_client.get(reverse("admin:payments_flaggedpayment_changelist"), {"q": "abc"}).status_code == 200
    page = admin_client.get(reverse("admin:payments_flaggedpayment_change", args=[flagged.pk]))
    assert page.status_code == 200 and b"USD" in page.content and b'name="reason"' not in page.content
    assert admin_client.get(reverse("admin:payments_flaggedpayment_add")).status_code == 403
    assert admin_client.post(reverse("admin:payments_flaggedpayment_delete", args=[flagged.pk]),
                             {"post": "yes"}).status_code == 403
