"""One naming of top-ups: the stats page and ``add_balance --stats`` count them with the same selector
(billing.topups: Stars and operator) and label them with the same texts."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from billing import services, topups
from billing.models import TransactionType


@pytest.mark.django_db
def test_add_balance_stats_and_the_stats_page_name_and_count_top_ups_alike(make_user, admin_client):
    user = make_user()
    services.balance_credit(user=user, amount="100", type=TransactionType.TOPUP)
    services.balance_credit(user=user, amount="2.50")  # an operator's
    services.balance_credit(user=user, amount="3", type=TransactionType.BONUS)  # not a top-up
    out = StringIO()
    call_command("add_balance", "--stats", stdout=out)
    page = admin_client.get(reverse("admin-stats"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    with translation.override("en"):
        for label, coins in ((topups.TOPUPS_LABEL, "102.50"), (topups.STARS_LABEL, "100.00"),
                             (topups.OPERATOR_LABEL, "2.50")):
            assert f"\n{label}  " in out.getvalue()
            assert f'<div>{label}</div><div class="number">{coins}</div>' in page
    assert "Top-ups                               102.50 (2)          102.50 (2)" in out.getvalue()
    assert "Top-ups via Telegram Stars            100.00 (1)          100.00 (1)" in out.getvalue()
    assert "Top-ups by operators                    2.50 (1)            2.50 (1)" in out.getvalue()
