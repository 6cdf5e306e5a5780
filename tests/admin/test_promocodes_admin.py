import re
from decimal import Decimal

import pytest
from django.urls import reverse

from promocodes.models import Promokode, PromokodeType
from promocodes.services import promo_code_create

BULK = reverse("admin:promocodes_promokode_bulk_generate")


def _bulk_data(**overrides):
    data = {"count": "5", "prefix": "spring", "length": "8", "type": "balance", "balance_amount": "50",
            "max_uses": "1", "max_uses_per_user": "1", "description": "spring campaign"}
    return data | overrides


@pytest.mark.django_db
def test_bulk_generate_creates_n_random_codes_with_the_same_terms(admin_client):
    response = admin_client.post(BULK, _bulk_data())
    assert response.status_code == 200
    codes = Promokode.objects.order_by("code")
    assert codes.count() == 5
    assert {(c.type, c.balance_amount, c.max_uses, c.created_by) for c in codes} == {
        (PromokodeType.BALANCE, Decimal("50"), 1, "admin:admin")
    }
    assert all(re.fullmatch(r"SPRING[A-Z2-9]{8}", c.code) for c in codes)
    for code in codes:  # shown to the operator for copying
        assert code.code.encode() in response.content


@pytest.mark.django_db
def test_bulk_generate_with_invalid_terms_shows_the_error_and_creates_nothing(admin_client):
    response = admin_client.post(BULK, _bulk_data(balance_amount=""))
    assert response.status_code == 200
    assert b"errornote" in response.content
    assert Promokode.objects.count() == 0


@pytest.mark.django_db
def test_the_promo_list_links_bulk_generation_and_shows_uses(admin_client):
    promo_code_create(code="TEN", type="balance", balance_amount=Decimal("10"), max_uses=10)
    Promokode.objects.filter(code="TEN").update(current_uses=3)
    response = admin_client.get(reverse("admin:promocodes_promokode_changelist"))
    assert BULK.encode() in response.content
    row = response.content.decode().split("TEN", 1)[1].split("</tr>", 1)[0]
    assert ">3<" in row and ">7<" in row  # used, remaining


@pytest.mark.django_db
def test_deactivate_action(admin_client):
    a = promo_code_create(code="A1", type="balance", balance_amount=Decimal("10"))
    b = promo_code_create(code="B1", type="balance", balance_amount=Decimal("10"))
    admin_client.post(reverse("admin:promocodes_promokode_changelist"),
                      {"action": "deactivate", "_selected_action": [str(a.pk)]})
    a.refresh_from_db(), b.refresh_from_db()
    assert not a.is_active and b.is_active


@pytest.mark.django_db
def test_the_add_form_creates_through_the_service(admin_client):
    add = reverse("admin:promocodes_promokode_add")
    data = {"code": " welcome ", "type": "bonus", "bonus_amount": "20", "max_uses_per_user": "1", "is_active": "on"}
    response = admin_client.post(add, data)
    assert response.status_code == 302
    promo = Promokode.objects.get()
    assert (promo.code, promo.bonus_amount, promo.created_by) == ("WELCOME", Decimal("20"), "admin:admin")


@pytest.mark.django_db
def test_the_add_form_shows_the_service_refusal(admin_client):
    add = reverse("admin:promocodes_promokode_add")
    response = admin_client.post(add, {"code": "NOPE", "type": "discount", "discount_percent": "150"})
    assert response.status_code == 200
    assert b"100%" in response.content
    assert not Promokode.objects.exists()


@pytest.mark.django_db
def test_the_change_form_keeps_the_terms_fixed(admin_client):
    promo = promo_code_create(code="FIXED", type="balance", balance_amount=Decimal("10"))
    change = reverse("admin:promocodes_promokode_change", args=[promo.pk])
    assert admin_client.get(change).status_code == 200
    inline = {"usages-TOTAL_FORMS": "0", "usages-INITIAL_FORMS": "0"}
    response = admin_client.post(change, {"balance_amount": "9999", "description": "note", "is_active": "on", **inline})
    assert response.status_code == 302
    promo.refresh_from_db()
    assert promo.balance_amount == Decimal("10") and promo.description == "note"
