"""The ledger entry page's "Refund Stars payment" button: offered for a Stars payment to operators who may adjust
balances, refused as a message when the coins were spent, and refunding through Telegram once."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from billing import services as billing_services
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from tests.payments.helpers import stars_topup
from tests.support.botapi import TOKEN, FakeBotAPI


@pytest.fixture
def entry(make_user):
    """A Stars payment of 100 coins, 30 of them spent: returns the spending entry."""
    user = make_user(username="payer")
    stars_topup(user, "c1", coins="100")
    return billing_services.balance_debit(user=user, amount=30, description="an image")


@pytest.mark.django_db
def test_refunding_a_non_payment_is_not_offered_and_refused(admin_client, entry):
    page = admin_client.get(reverse("admin:billing_transaction_change", args=[entry.pk]))
    assert b"refund-stars-form" not in page.content
    response = admin_client.post(reverse("admin:billing_transaction_refund_stars", args=[entry.pk]))
    assert response.status_code == 404


@pytest.mark.django_db
def test_refund_button_needs_the_adjust_permission(staff_client, entry):
    client = staff_client("billing.view_transaction")
    payment = Transaction.objects.get(type=TransactionType.TOPUP)
    page = client.get(reverse("admin:billing_transaction_change", args=[payment.pk]))
    assert page.status_code == 200 and b"refund-stars-form" not in page.content
    assert client.post(reverse("admin:billing_transaction_refund_stars", args=[payment.pk])).status_code == 403


@pytest.mark.django_db
def test_refunding_spent_stars_is_refused_as_a_message(admin_client, entry, api):
    payment = Transaction.objects.get(type=TransactionType.TOPUP)
    page = admin_client.get(reverse("admin:billing_transaction_change", args=[payment.pk]))
    assert b"refund-stars-form" in page.content
    # 30 of the 100 coins were spent: taking the payment back would go negative.
    response = admin_client.post(reverse("admin:billing_transaction_refund_stars", args=[payment.pk]))
    assert response.status_code == 302
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]
    assert balance_get(user=entry.user) == Decimal("70")
    assert api.calls_of("refundStarPayment") == []  # refused for the spent coins, before Telegram is asked


@pytest.mark.django_db
def test_the_refund_button_refunds_a_stars_payment_through_telegram_once(admin_client, make_user, settings):
    user = make_user()
    payment = billing_services.balance_credit(
        user=user, amount=100, type=TransactionType.TOPUP, idempotency_key="stars:ch-9",
        extra_data={"telegram_payment_charge_id": "ch-9", "telegram_user_id": user.telegram_id},
    )
    refund_url = reverse("admin:billing_transaction_refund_stars", args=[payment.pk])
    with FakeBotAPI() as api:
        settings.BOT_TOKEN, settings.BOT_API_URL = TOKEN, api.base_url
        response = admin_client.post(refund_url)
        assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["success"]
        assert api.calls_of("refundStarPayment")[0].data["telegram_payment_charge_id"] == "ch-9"
        page = admin_client.get(reverse("admin:billing_transaction_change", args=[payment.pk]))
        assert b"refund-stars-form" not in page.content  # refunded: no second button
    reversal = Transaction.objects.get(refund_of=payment)
    assert (reversal.type, reversal.amount) == (TransactionType.PAYMENT_REFUND, Decimal("-100"))
    assert reversal.created_by == "admin:admin"
    assert balance_get(user=user) == 0
