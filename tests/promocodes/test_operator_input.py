"""What an operator types for promo codes and packages: codes of Latin letters and digits only (upper-cased; a
Cyrillic look-alike refused with a message saying so), total uses at least 1 or empty, no amount kept that the
code's type does not use, packages priced at 1 Star or more with a bonus of 0 or more; every refusal a form error
in words, never a constraint's name."""

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import TopUpPackage
from promocodes.exceptions import PromoCodeInvalid
from promocodes.models import Promokode, PromokodeType
from promocodes.services import promo_code_bulk_generate, promo_code_create

ADD = reverse("admin:promocodes_promokode_add")
BULK = reverse("admin:promocodes_promokode_bulk_generate")
PACKAGE_ADD = reverse("admin:payments_topuppackage_add")


def _code_form(**overrides):
    data = {"code": "SPRING", "type": "balance", "balance_amount": "50", "max_uses": "", "max_uses_per_user": "1",
            "is_active": "on"}
    return data | overrides


@pytest.mark.django_db
def test_a_code_is_upper_cased_latin_letters_and_digits(admin_client):
    assert admin_client.post(ADD, _code_form(code=" spring25 ")).status_code == 302
    assert Promokode.objects.get().code == "SPRING25"
    for bad in ("SPR ING", "SPRING-25", "SPRING_25", "СКИДКА"):
        with pytest.raises(PromoCodeInvalid):
            promo_code_create(code=bad, type="balance", balance_amount=Decimal("5"))


@pytest.mark.django_db
def test_a_cyrillic_look_alike_is_refused_with_a_clear_message(admin_client):
    page = admin_client.post(ADD, _code_form(code="SАLE")).content.decode()  # a Cyrillic А
    assert "Only Latin letters and digits: А are Cyrillic letters" in page
    assert not Promokode.objects.exists()
    page = admin_client.post(BULK, {"count": "2", "prefix": "ВЕСНА", "length": "8", "type": "balance",
                                    "balance_amount": "5", "max_uses": "1", "max_uses_per_user": "1"})
    assert "Cyrillic letters" in page.content.decode() and not Promokode.objects.exists()


@pytest.mark.django_db
def test_total_uses_are_at_least_one_or_empty(admin_client):
    page = admin_client.post(ADD, _code_form(max_uses="0")).content.decode()
    assert "“total uses” is at least 1, or empty for no limit." in page and not Promokode.objects.exists()
    assert admin_client.post(ADD, _code_form(max_uses="")).status_code == 302
    assert Promokode.objects.get().max_uses is None  # unlimited


@pytest.mark.django_db
def test_no_amount_is_kept_that_the_type_does_not_use(admin_client):
    response = admin_client.post(ADD, _code_form(type="bonus", bonus_amount="20", balance_amount="50",
                                                 discount_percent="10"))
    assert response.status_code == 302
    promo = Promokode.objects.get()
    assert (promo.bonus_amount, promo.balance_amount, promo.discount_percent) == (Decimal("20"), None, None)
    [generated] = promo_code_bulk_generate(count=1, type=PromokodeType.DISCOUNT, discount_percent=Decimal("10"),
                                           balance_amount=Decimal("5"))
    assert generated.balance_amount is None
    # A row that kept a stray amount (written before this rule) loses it on its next save.
    Promokode.objects.filter(pk=promo.pk).update(balance_amount=Decimal("7"))
    promo.refresh_from_db()
    promo.save()
    promo.refresh_from_db()
    assert promo.balance_amount is None and promo.bonus_amount == Decimal("20")


def _package_form(**overrides):
    return {"title": "Pack", "stars": "100", "credits": "100", "bonus_credits": "0", "is_active": "on",
            "sort_order": "0", "created_at_0": "2026-01-01", "created_at_1": "10:00:00"} | overrides


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value", "message"), [
    ("stars", "0", "The price is at least 1 Telegram Star."),
    ("credits", "0", "A package gives more than 0 coins."),
    ("bonus_credits", "-5", "Bonus coins cannot be negative (0 for no bonus)."),
])
def test_a_package_refusal_is_a_form_error_in_words(admin_client, field, value, message):
    before = TopUpPackage.objects.count()
    page = admin_client.post(PACKAGE_ADD, _package_form(**{field: value})).content.decode()
    assert message in page and "topup_packages_" not in page and "Constraint" not in page
    assert TopUpPackage.objects.count() == before
    assert admin_client.post(PACKAGE_ADD, _package_form()).status_code == 302
