"""Activating promo codes: checks in order, atomic redemption, race for the last use, bonus and discount."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import close_old_connections
from django.utils import timezone

from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from payments.exceptions import PriceChanged
from payments.invoices import invoice_for_offer
from payments.models import TopUpPackage
from payments.selectors import topup_offer_get
from payments.services.purchase import purchase_complete, purchase_pre_checkout_check
from promocodes import exceptions
from promocodes.models import Promokode, PromokodeType, PromokodeUsage
from promocodes.selectors import discounted_stars, promo_perks_pending
from promocodes.services import promo_code_activate, promo_code_create


def balance_code(code="GIFT50", amount="50", **terms):
    return promo_code_create(code=code, type=PromokodeType.BALANCE, balance_amount=Decimal(amount), **terms)


@pytest.mark.django_db
def test_a_balance_code_credits_its_amount_once_with_a_usage_row_and_counter(make_user):
    user = make_user()
    promo = balance_code()
    activation = promo_code_activate(user=user, code="  gift50 ")
    assert activation.credit.type == TransactionType.PROMO and activation.credit.amount == Decimal("50")
    assert activation.credit.idempotency_key == f"promo:{activation.usage.pk}"
    assert balance_get(user=user) == Decimal("50")
    promo.refresh_from_db()
    assert promo.current_uses == 1
    usage = PromokodeUsage.objects.get(promokode=promo, user=user)
    assert usage.amount_added == Decimal("50") and usage.consumed_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("code, terms, error", [
    ("NOPE", None, exceptions.PromoCodeNotFound),
    ("OFF", {"is_active": False}, exceptions.PromoCodeNotFound),
    ("LATER", {"valid_from": timezone.now() + timedelta(days=1)}, exceptions.PromoCodeNotStarted),
    ("OLD", {"valid_until": timezone.now() - timedelta(seconds=1)}, exceptions.PromoCodeExpired),
    ("EMPTY", {"max_uses": 0}, exceptions.PromoCodeExhausted),
])
def test_each_refusal_has_its_own_error_and_changes_nothing(make_user, code, terms, error):
    user = make_user()
    if terms is not None and terms.get("max_uses") == 0:
        # No longer accepted from an operator, but rows of the earlier service may hold it: used up.
        Promokode.objects.create(code=code, type=PromokodeType.BALANCE, balance_amount=Decimal("50"), **terms)
    elif terms is not None:
        balance_code(code=code, **terms)
    with pytest.raises(error):
        promo_code_activate(user=user, code=code)
    assert not PromokodeUsage.objects.exists() and not Transaction.objects.exists()
    assert not Promokode.objects.filter(current_uses__gt=0).exists()


@pytest.mark.django_db
def test_the_uses_per_user_limit_is_enforced(make_user):
    user = make_user()
    balance_code(max_uses_per_user=2)
    promo_code_activate(user=user, code="GIFT50")
    promo_code_activate(user=user, code="GIFT50")
    with pytest.raises(exceptions.PromoCodeAlreadyUsed):
        promo_code_activate(user=user, code="GIFT50")
    assert balance_get(user=user) == Decimal("100")


@pytest.mark.django_db
def test_the_total_limit_is_enforced_across_users(make_user):
    balance_code(max_uses=1, max_uses_per_user=None)
    promo_code_activate(user=make_user(), code="GIFT50")
    with pytest.raises(exceptions.PromoCodeExhausted):
        promo_code_activate(user=make_user(), code="GIFT50")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_users_racing_for_the_last_use_exactly_one_wins(make_user):
    balance_code(max_uses=1)
    users = [make_user(), make_user()]
    barrier = threading.Barrier(2)
    outcomes = {}

    def redeem(user):
        try:
            barrier.wait(5)
            promo_code_activate(user=user, code="GIFT50")
            outcomes[user.pk] = "won"
        except exceptions.PromoCodeExhausted:
            outcomes[user.pk] = "refused"
        finally:
            close_old_connections()

    threads = [threading.Thread(target=redeem, args=(u,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(outcomes.values()) == ["refused", "won"]
    assert Promokode.objects.get(code="GIFT50").current_uses == 1
    assert PromokodeUsage.objects.count() == 1 and Transaction.objects.filter(type=TransactionType.PROMO).count() == 1


@pytest.mark.django_db
def test_a_bonus_code_is_added_to_the_next_top_up_only(make_user):
    user = make_user()
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100, bonus_credits=10)
    promo_code_create(code="BONUS30", type=PromokodeType.BONUS, bonus_amount=Decimal("30"))
    activation = promo_code_activate(user=user, code="BONUS30")
    assert activation.credit is None and balance_get(user=user) == 0
    assert promo_perks_pending(user=user).bonus == Decimal("30")

    offer = topup_offer_get(user=user, package_id=package.pk)
    payload = invoice_for_offer(user=user, offer=offer).payload()
    first = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=100,
                              telegram_payment_charge_id="c1")
    assert first.bonus.type == TransactionType.BONUS and first.bonus.amount == Decimal("30")
    assert first.topup.idempotency_key == "stars:c1" and first.bonus.idempotency_key == "promo-bonus:c1"
    assert first.balance == Decimal("140")
    again = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=100,
                              telegram_payment_charge_id="c1")
    assert again.duplicate and balance_get(user=user) == Decimal("140")
    second = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=100,
                               telegram_payment_charge_id="c2")
    assert second.bonus is None and balance_get(user=user) == Decimal("250")
    assert PromokodeUsage.objects.get().consumed_at is not None


@pytest.mark.django_db
def test_a_discount_code_lowers_the_next_package_price_and_is_consumed_by_the_payment(make_user):
    user = make_user()
    package = TopUpPackage.objects.create(title="P", stars=250, credits=250)
    promo_code_create(code="SALE20", type=PromokodeType.DISCOUNT, discount_percent=Decimal("20"))
    promo_code_activate(user=user, code="SALE20")
    offer = topup_offer_get(user=user, package_id=package.pk)
    assert offer.stars == 200
    payload = invoice_for_offer(user=user, offer=offer).payload()
    purchase_pre_checkout_check(payer_telegram_id=user.telegram_id, payload=payload, currency="XTR", total_amount=200)
    result = purchase_complete(payer_telegram_id=user.telegram_id, payload=payload, total_amount=200,
                               telegram_payment_charge_id="d1")
    assert result.topup.amount == Decimal("250") and result.topup.extra_data["stars"] == 200
    assert topup_offer_get(user=user, package_id=package.pk).stars == 250
    # A second invoice made with the same discount is stale now: its price no longer matches.
    with pytest.raises(PriceChanged):
        purchase_pre_checkout_check(payer_telegram_id=user.telegram_id, payload=payload, currency="XTR",
                                    total_amount=200)


def test_discounted_prices_are_whole_stars_and_at_least_one():
    assert discounted_stars(stars=150, percent=Decimal("15")) == 128
    assert discounted_stars(stars=1, percent=Decimal("99")) == 1
    assert discounted_stars(stars=150, percent=None) == 150
