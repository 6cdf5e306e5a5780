"""One discount, one purchase: a pre-checkout holds the discount for its invoice, a second invoice is refused (in
the services and in the bot)."""

import logging
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import close_old_connections
from django.utils import timezone

from billing.models import Transaction
from billing.selectors import balance_get
from botworker.callbacks import TopUpPackageChoice
from payments import exceptions
from payments.invoices import invoice_for_offer, invoice_parse
from payments.models import TopUpPackage
from payments.selectors import topup_offer_get
from payments.services.purchase import purchase_complete, purchase_pre_checkout_check
from promocodes.models import PromokodeType, PromokodeUsage
from promocodes.services import promo_code_activate, promo_code_create
from tests.support import updates


def _half_price_invoices(user, n=2):
    """``n`` invoices of the same package carrying the same 50% discount (the user opened the offer n times)."""
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    promo_code_create(code="HALF", type=PromokodeType.DISCOUNT, discount_percent=Decimal("50"))
    promo_code_activate(user=user, code="HALF")
    return [invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
            for _ in range(n)]


def _check(user, payload):
    return purchase_pre_checkout_check(payer_telegram_id=user.telegram_id, payload=payload, currency="XTR",
                                       total_amount=50)


def _pay(user, payload, charge_id):
    return purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=50,
                             telegram_payment_charge_id=charge_id)


@pytest.mark.django_db
def test_a_second_invoice_with_the_same_discount_is_refused_while_the_first_is_being_paid(make_user):
    user = make_user()
    first, second = _half_price_invoices(user)
    assert first != second  # two invoices of one discount are told apart
    _check(user, first)
    with pytest.raises(exceptions.DiscountReserved):
        _check(user, second)
    assert isinstance(exceptions.DiscountReserved(), exceptions.PriceChanged)  # the bot says "price changed"
    _check(user, first)  # the same invoice may be checked again (Telegram retries)
    _pay(user, first, "half-1")
    with pytest.raises(exceptions.PriceChanged):  # consumed now: the second invoice is stale for good
        _check(user, second)
    usage = PromokodeUsage.objects.get()
    assert usage.consumed_at is not None and usage.reserved_payload is None


@pytest.mark.django_db
def test_a_hold_whose_payment_never_came_expires_and_another_invoice_may_take_the_discount(make_user):
    user = make_user()
    first, second = _half_price_invoices(user)
    _check(user, first)
    PromokodeUsage.objects.update(reserved_until=timezone.now() - timedelta(seconds=1))
    _check(user, second)
    assert PromokodeUsage.objects.get().reserved_payload == second
    with pytest.raises(exceptions.DiscountReserved):
        _check(user, first)


@pytest.mark.django_db
def test_a_refused_pre_checkout_does_not_hold_the_discount(make_user):
    user = make_user()
    first, second = _half_price_invoices(user)
    with pytest.raises(exceptions.PriceChanged):
        purchase_pre_checkout_check(payer_telegram_id=user.telegram_id, payload=first, currency="XTR",
                                    total_amount=51)
    assert PromokodeUsage.objects.get().reserved_payload is None
    _check(user, second)


@pytest.mark.django_db
def test_a_paid_invoice_whose_discount_another_payment_consumed_is_still_credited(make_user, caplog):
    # Both payments went through (Telegram has the Stars): the second is credited, never refused, and logged.
    user = make_user()
    first, second = _half_price_invoices(user)
    _pay(user, first, "half-1")
    with caplog.at_level(logging.WARNING, logger="payments.services.purchase"):
        result = _pay(user, second, "half-2")
    assert not result.duplicate and result.topup.amount == Decimal("100")
    assert balance_get(user=user) == Decimal("200")
    assert "another payment had consumed" in caplog.text
    assert PromokodeUsage.objects.get().package_used is not None


@pytest.mark.django_db
def test_old_five_part_payloads_still_parse_and_odd_nonces_are_refused():
    assert invoice_parse("topup:1:2:50:-").nonce is None
    assert invoice_parse("topup:1:2:50:" + "a" * 32 + ":beef01").nonce == "beef01"
    for bad in ("topup:1:2:50:-:no-pe", "topup:1:2:50:-:x:y", "topup:1:2:50:-:" + "a" * 17):
        with pytest.raises(exceptions.InvoiceInvalid):
            invoice_parse(bad)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_invoices_pre_checked_at_the_same_moment_only_one_holds_the_discount(make_user):
    user = make_user()
    payloads = _half_price_invoices(user, n=4)
    barrier, outcomes = threading.Barrier(len(payloads)), []

    def check(payload):
        try:
            barrier.wait()
            _check(user, payload)
            outcomes.append("ok")
        except exceptions.DiscountReserved:
            outcomes.append("held")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=check, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["held"] * 3 + ["ok"]


def _ok(answer) -> bool:
    return answer.data["ok"] in (True, "true")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("topup_packages")
async def test_two_invoices_with_one_discount_only_the_first_passes_pre_checkout(bot_env):
    await bot_env.orm(promo_code_create, code="HALF", type=PromokodeType.DISCOUNT, discount_percent=Decimal("50"))
    bot_env.feed(updates.message(7401, "/promo HALF"))
    await bot_env.wait_for("sendMessage", lambda c: "Скидка 50%" in c.text)
    package = await bot_env.orm(lambda: TopUpPackage.objects.filter(is_active=True).order_by("stars").first())
    price = (package.stars + 1) // 2
    for _ in range(2):
        bot_env.feed(updates.callback(7401, TopUpPackageChoice(package_id=package.pk).pack()))
    invoices = await bot_env.wait_for("sendInvoice", count=2)
    first, second = (call.data["payload"] for call in invoices)
    assert first != second and all(call.json("prices")[0]["amount"] == price for call in invoices)

    bot_env.feed(updates.pre_checkout(7401, payload=first, total_amount=price))
    assert _ok(await bot_env.wait_for("answerPreCheckoutQuery"))
    bot_env.feed(updates.pre_checkout(7401, payload=second, total_amount=price))
    refused = (await bot_env.wait_for("answerPreCheckoutQuery", count=2))[1]
    assert not _ok(refused) and "Цена или пакет изменились" in refused.data["error_message"]

    bot_env.feed(updates.successful_payment(7401, payload=first, total_amount=price, charge_id="half-bot"))
    await bot_env.wait_for("sendMessage", lambda c: "Оплата получена" in c.text)
    bot_env.feed(updates.pre_checkout(7401, payload=second, total_amount=price))
    assert not _ok((await bot_env.wait_for("answerPreCheckoutQuery", count=3))[2])
    assert await bot_env.orm(lambda: Transaction.objects.filter(user__telegram_id=7401).count()) == 1
