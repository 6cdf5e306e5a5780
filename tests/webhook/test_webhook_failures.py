"""An update whose handling meets an infrastructure failure (the database fails under the handler) is not counted as
handled: the endpoint answers 500 and un-claims it, and Telegram's re-send is handled (credited once, with its
receipt and its discount consumed). When even the un-claim fails, the claim is taken over once abandoned."""

from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from billing.models import Transaction
from botworker import webhook
from botworker.callbacks import TopUpPackageChoice
from botworker.models import ProcessedUpdate
from payments.invoices import Invoice
from payments.models import TopUpPackage
from promocodes import services as promo_services
from promocodes.models import PromokodeType, PromokodeUsage
from tests.support import updates
from tests.support.faults import failing_writes

pytestmark = pytest.mark.django_db(transaction=True)

_update_ids = iter(range(6100, 7000))


def receipts(api, user_id: int) -> list:
    return [c for c in api.calls_of("sendMessage")
            if str(c.data["chat_id"]) == str(user_id) and "Оплата получена" in c.text]


async def discounted_invoice(webhook_env, user_id: int) -> tuple[str, int]:
    """Through the webhook: a 50% code activated, an invoice for a package, its pre-checkout accepted."""
    await sync_to_async(promo_services.promo_code_create)(
        code=f"HALF{user_id}", type=PromokodeType.DISCOUNT, discount_percent=Decimal("50"))
    assert (await webhook_env.post(dict(updates.message(user_id, f"/promo HALF{user_id}"),
                                        update_id=next(_update_ids)))).status_code == 200
    package = await TopUpPackage.objects.acreate(title="Старт", stars=150, credits=Decimal("150"))
    await webhook_env.post(dict(updates.callback(user_id, TopUpPackageChoice(package_id=package.pk).pack()),
                                update_id=next(_update_ids)))
    (invoice,) = webhook_env.api.calls_of("sendInvoice")
    payload, price = invoice.data["payload"], invoice.json("prices")[0]["amount"]
    await webhook_env.post(dict(updates.pre_checkout(user_id, payload=payload, total_amount=price),
                                update_id=next(_update_ids)))
    (answer,) = webhook_env.api.calls_of("answerPreCheckoutQuery")
    assert answer.data["ok"] in (True, "true") and price == 75
    return payload, price


async def paid(user_id: int) -> tuple[int, int]:
    """(ledger entries of the payment, discounts consumed) of the user."""
    return (await Transaction.objects.filter(idempotency_key=f"stars:charge-{user_id}").acount(),
            await PromokodeUsage.objects.filter(user__telegram_id=user_id, consumed_at__isnull=False).acount())


@pytest.mark.postgres
@pytest.mark.parametrize("terminate", [False, True], ids=["ledger-insert-raises", "backend-terminated"])
async def test_a_payment_that_loses_the_database_gets_500_and_its_resend_credits_once_with_receipt_and_discount(
        webhook_env, terminate):
    user_id = 6201 + terminate
    payload, price = await discounted_invoice(webhook_env, user_id)
    payment = dict(updates.successful_payment(user_id, payload=payload, total_amount=price,
                                              charge_id=f"charge-{user_id}"), update_id=next(_update_ids))

    with failing_writes("transactions", times=1, terminate=terminate) as fault:
        response = await webhook_env.post(payment)
        assert fault.hits() == 1
    assert response.status_code == 500  # Telegram re-sends an update that was not answered 2xx
    assert not await ProcessedUpdate.objects.filter(update_id=payment["update_id"]).aexists()  # un-claimed
    assert await paid(user_id) == (0, 0) and receipts(webhook_env.api, user_id) == []

    assert (await webhook_env.post(payment)).status_code == 200  # Telegram's re-send
    assert await paid(user_id) == (1, 1)
    assert len(receipts(webhook_env.api, user_id)) == 1
    assert (await webhook_env.post(payment)).status_code == 200  # a later duplicate is dropped
    assert await paid(user_id) == (1, 1) and len(receipts(webhook_env.api, user_id)) == 1
    assert not [c for c in webhook_env.api.calls_of("sendMessage") if "Что-то пошло не так" in c.text]


@pytest.mark.postgres
async def test_an_update_whose_unclaim_fails_too_is_handled_by_a_resend_once_its_claim_is_abandoned(
        webhook_env, monkeypatch):
    monkeypatch.setattr(webhook, "BUSY_WAIT_SECONDS", 0.2)  # how long a re-send waits for a claim to end
    user_id = 6211
    await webhook_env.post(dict(updates.message(user_id, "/start"), update_id=next(_update_ids)))
    package = await TopUpPackage.objects.acreate(title="Старт", stars=50, credits=Decimal("100"))
    payload = Invoice(telegram_user_id=user_id, package_id=package.pk, stars=50).payload()
    payment = dict(updates.successful_payment(user_id, payload=payload, total_amount=50,
                                              charge_id=f"charge-{user_id}"), update_id=next(_update_ids))

    with failing_writes("transactions", times=1), failing_writes("bot_processed_updates", event="DELETE"):
        assert (await webhook_env.post(payment)).status_code == 500
    claim = await ProcessedUpdate.objects.aget(update_id=payment["update_id"])
    assert not claim.done  # the un-claim failed: the claim is left undone

    # A re-send while the claim is young: it might still be handled elsewhere, so Telegram must send it again.
    assert (await webhook_env.post(payment)).status_code == 503
    assert await paid(user_id) == (0, 0)

    # Once the claim is older than the handling timeout plus the grace, the next re-send takes it over.
    abandoned = timezone.now() - timedelta(seconds=settings.BOT_WEBHOOK_TIMEOUT
                                           + webhook.CLAIM_GRACE_SECONDS + 1)
    await ProcessedUpdate.objects.filter(update_id=payment["update_id"]).aupdate(processed_at=abandoned)
    assert (await webhook_env.post(payment)).status_code == 200
    assert await paid(user_id) == (1, 0)
    assert len(receipts(webhook_env.api, user_id)) == 1
    assert (await ProcessedUpdate.objects.aget(update_id=payment["update_id"])).done
    assert (await webhook_env.post(payment)).status_code == 200
    assert len(receipts(webhook_env.api, user_id)) == 1


async def test_a_domain_error_is_answered_in_the_bot_and_counted_as_handled(webhook_env):
    """Not every failure is infrastructure: a Bot API refusal inside a handler gets the apology and a 200."""
    webhook_env.api.fail("sendMessage", 400, "Bad Request: chat not found",
                         when=lambda d: "Привет" in d.get("text", ""))
    update = dict(updates.message(6221, "/start"), update_id=next(_update_ids))
    assert (await webhook_env.post(update)).status_code == 200
    assert [c for c in webhook_env.api.calls_of("sendMessage") if "Что-то пошло не так" in c.text]
    assert (await ProcessedUpdate.objects.aget(update_id=update["update_id"])).done
