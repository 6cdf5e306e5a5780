"""The ledger list fits a 1366 px screen: chosen columns, long names and descriptions cut with the whole text in a
title (the browser test measures the page itself)."""

from html import escape

import pytest
from django.urls import reverse

from billing import services as billing_services

pytestmark = pytest.mark.django_db
LEDGER = reverse("admin:billing_transaction_changelist")


def test_the_ledger_list_cuts_long_names_and_descriptions_keeping_them_in_a_title(admin_client, make_user):
    user = make_user(first_name="Александра-Виктория", last_name="Константинопольская-Щедрина",
                     username="a_very_long_username_indeed")
    description = "Компенсация за сбой генерации 14 ноября, обращение в поддержку номер 123456 от пользователя"
    billing_services.balance_credit(user=user, amount=5, description=description)
    html = admin_client.get(LEDGER).content.decode()
    assert f'title="{escape(description)}"' in html
    assert f'title="{escape(str(user))}"' in html
    assert f">{description}<" not in html and f">{escape(str(user))}<" not in html


def test_the_ledger_list_shows_its_chosen_columns(admin_client, make_user):
    billing_services.balance_credit(user=make_user(), amount=5)
    response = admin_client.get(LEDGER)
    columns = [column for column in response.context["cl"].list_display if column != "action_checkbox"]
    assert columns == ["id", "created_short", "user_short", "type", "amount_display", "balance_after_display",
                       "description_short", "author_short"]
    assert "status" in response.context["cl"].model_admin.list_filter  # a filter instead of a column
