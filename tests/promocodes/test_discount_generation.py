"""A discount code lowers the price of the next purchase, a Stars package or a generation: whichever comes first
uses it, once. A failed generation refunds what was charged; the discount is not given back."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from generations import services
from generations.models import GenerationStatus
from payments import exceptions
from payments.invoices import invoice_for_offer
from payments.models import TopUpPackage
from payments.selectors import topup_offer_get
from payments.services.purchase import purchase_pre_checkout_check
from promocodes.models import PromokodeType, PromokodeUsage
from promocodes.selectors import discount_price_get
from promocodes.services import discount_consume_for_purchase, promo_code_activate, promo_code_create
from tests.generations.conftest import fake_fal, funded_user, media, ready_avatar  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def _with_discount(user, percent="20", code="GEN20"):
    promo_code_create(code=code, type=PromokodeType.DISCOUNT, discount_percent=Decimal(percent))
    return promo_code_activate(user=user, code=code).usage


def _generate(user, avatar, n=1):
    return services.generation_create(user=user, avatar_id=avatar.pk, aspect_ratio="1:1", num_images=n,
                                      prompt="на пляже на закате")


def test_a_discount_lowers_the_next_generation_once_and_the_one_after_costs_the_full_price(
        funded_user, ready_avatar, fake_fal):
    user = funded_user("100")
    avatar = ready_avatar(user)
    usage = _with_discount(user)
    assert discount_price_get(user=user, price=Decimal("10")).price == Decimal("8.00")

    first = _generate(user, avatar, n=2)  # 2 x 5 = 10, 20% off
    assert first.charge.amount == Decimal("-8.00") and balance_get(user=user) == Decimal("92")
    assert first.charge.extra_data["promokode_usage_id"] == str(usage.pk)
    usage.refresh_from_db()
    assert usage.consumed_at is not None and usage.package_used == f"generation:{first.pk.hex}"

    second = _generate(user, avatar, n=2)
    assert second.charge.amount == Decimal("-10") and balance_get(user=user) == Decimal("82")
    assert discount_price_get(user=user, price=Decimal("10")).discount_percent is None
    assert len(fake_fal.submitted()) == 2


def test_a_generation_used_discount_is_gone_for_the_package_invoice_issued_before_it(
        funded_user, ready_avatar, fake_fal):
    user = funded_user("100")
    _with_discount(user, percent="50", code="HALF")
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    _generate(user, ready_avatar(user))
    assert balance_get(user=user) == Decimal("97.50")
    with pytest.raises(exceptions.PriceChanged):  # first come, first served: the generation took the discount
        purchase_pre_checkout_check(payer_telegram_id=user.telegram_id, payload=payload, currency="XTR",
                                    total_amount=50)
    assert topup_offer_get(user=user, package_id=package.pk).stars == 100


def test_a_discount_held_for_an_invoice_being_paid_is_not_used_by_a_generation(funded_user, ready_avatar, fake_fal):
    user = funded_user("100")
    usage = _with_discount(user, percent="50", code="HALF")
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    payload = invoice_for_offer(user=user, offer=topup_offer_get(user=user, package_id=package.pk)).payload()
    purchase_pre_checkout_check(payer_telegram_id=user.telegram_id, payload=payload, currency="XTR", total_amount=50)
    assert discount_price_get(user=user, price=Decimal("5")).price == Decimal("5")  # the bot shows the full price

    generation = _generate(user, ready_avatar(user))
    assert generation.charge.amount == Decimal("-5") and "promokode_usage_id" not in generation.charge.extra_data
    usage.refresh_from_db()
    assert usage.consumed_at is None and usage.reserved_payload == payload

    # The hold of a payment that never came expires: the next generation takes the discount.
    PromokodeUsage.objects.filter(pk=usage.pk).update(reserved_until=timezone.now() - timedelta(seconds=1))
    assert _generate(user, ready_avatar(user, main=False)).charge.amount == Decimal("-2.50")
    usage.refresh_from_db()
    assert usage.consumed_at is not None and usage.reserved_payload is None


def test_a_failed_discounted_generation_refunds_the_discounted_amount_and_keeps_the_discount_used(
        funded_user, ready_avatar, fake_fal, bot_api):
    user = funded_user("100")
    usage = _with_discount(user, percent="15", code="OFF15")
    fake_fal.script(outcome="malformed", queued=0, running=0)
    generation = _generate(user, ready_avatar(user), n=3)  # 15 x 0.85
    assert balance_get(user=user) == Decimal("87.25")
    services.generation_poll(generation_id=generation.pk)
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED and balance_get(user=user) == Decimal("100")
    refund = Transaction.objects.get(user=user, type=TransactionType.REFUND)
    assert refund.amount == Decimal("12.75")
    usage.refresh_from_db()
    assert usage.consumed_at is not None  # not given back
    # An operator's retry costs what the attempt it replaces cost.
    fake_fal.script(outcome="ok")
    services.generation_retry(generation=generation)
    assert balance_get(user=user) == Decimal("87.25")


def test_a_refused_generation_leaves_the_discount_unused(funded_user, ready_avatar, fake_fal):
    from billing.exceptions import InsufficientFunds

    user = funded_user("3")
    usage = _with_discount(user, percent="10", code="OFF10")
    with pytest.raises(InsufficientFunds):  # 4.50 > 3: the debit fails, the consumption rolls back with it
        _generate(user, ready_avatar(user))
    usage.refresh_from_db()
    assert usage.consumed_at is None and balance_get(user=user) == Decimal("3")


def test_a_price_discounted_to_nothing_charges_nothing_and_is_still_generated(
        funded_user, ready_avatar, fake_fal, settings):
    settings.IMAGE_GENERATION_COST = Decimal("0.01")
    user = funded_user("0.01")
    _with_discount(user, percent="99", code="ALMOST")
    generation = _generate(user, ready_avatar(user))
    assert generation.charge is None and balance_get(user=user) == Decimal("0.01")
    assert not Transaction.objects.filter(user=user, type=TransactionType.CHARGE).exists()
    assert fake_fal.submitted()[0].arguments["num_images"] == 1


def test_the_discount_is_consumed_only_inside_the_purchase_transaction(make_user):
    user = make_user()
    usage = _with_discount(user)
    with pytest.raises(RuntimeError):
        discount_consume_for_purchase(user=user, price=Decimal("5"))
    with transaction.atomic():
        assert discount_consume_for_purchase(user=user, price=Decimal("5")) == (Decimal("4.00"), usage)
        assert discount_consume_for_purchase(user=user, price=Decimal("5")) == (Decimal("5"), None)


@pytest.mark.postgres
def test_generations_racing_for_one_discount_get_it_once(funded_user, ready_avatar, fake_fal):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    user = funded_user("100")
    avatar = ready_avatar(user)
    usage = _with_discount(user, percent="50", code="HALF")

    def tap(n):
        try:
            return -services.generation_create(user=user, avatar_id=avatar.pk, aspect_ratio="1:1", num_images=1,
                                               prompt="в горах зимой", request_token=f"{n:032d}").charge.amount
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        charged = sorted(pool.map(tap, range(4)))
    assert charged == [Decimal("2.50"), Decimal("5"), Decimal("5"), Decimal("5")]
    assert balance_get(user=user) == Decimal("82.50")
    assert Transaction.objects.filter(extra_data__promokode_usage_id=str(usage.pk)).count() == 1
