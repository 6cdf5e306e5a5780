"""One money format and one time zone across the admin (and the bot's own times): thousands grouped and two
decimals in the operator's language, times in TIME_ZONE (Europe/Moscow unless configured), the zone named."""

from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from billing import services as billing_services
from billing.formats import count, figure, money, percent, signed_money
from billing.models import Transaction, TransactionType
from botworker.routers.balance import _entry_line
from payments.models import TopUpPackage
from promocodes import services as promo_services

NBSP = "\xa0"
LATE_EVENING_UTC = datetime(2026, 3, 1, 21, 30, tzinfo=dt_timezone.utc)  # already 2 March in Moscow


@pytest.fixture
def russian(admin_user):
    client = Client(headers={"Accept-Language": "ru"})
    client.force_login(admin_user)
    yield client
    translation.deactivate()


def _text(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_money_is_grouped_with_two_decimals_in_the_operators_language():
    with translation.override("ru"):
        assert money(Decimal("12345.5")) == f"12{NBSP}345,50"
        assert signed_money(Decimal("1234567.25")) == f"+1{NBSP}234{NBSP}567,25"
        assert signed_money(Decimal("-5")) == "-5,00"
        assert (count(25000), percent(Decimal("12.50")), percent(Decimal("15.00"))) == (f"25{NBSP}000", "12,5%", "15%")
        assert (figure(Decimal("1000")), figure(1000)) == (f"1{NBSP}000,00", f"1{NBSP}000")
    with translation.override("en"):
        assert (money(Decimal("12345.5")), signed_money(Decimal("0.5"))) == ("12,345.50", "+0.50")


@pytest.mark.django_db
def test_every_money_column_uses_the_money_format(russian, make_user):
    user = make_user(telegram_id=5550001)
    billing_services.balance_credit(user=user, amount=Decimal("12345.50"), type=TransactionType.TOPUP)
    billing_services.balance_debit(user=user, amount=Decimal("1000"))
    promo_services.promo_code_create(code="BIG1", type="balance", balance_amount=Decimal("1500"))
    promo_services.promo_code_create(code="HALF1", type="discount", discount_percent=Decimal("12.5"))
    TopUpPackage.objects.create(title="Оптовый", stars=12000, credits=Decimal("12000"), bonus_credits=Decimal("2500"))

    users = _text(russian.get(reverse("admin:accounts_user_changelist")))
    assert f"11{NBSP}345,50" in users
    page = _text(russian.get(reverse("admin:accounts_user_change", args=[user.pk])))
    assert f"+12{NBSP}345,50" in page and f"-1{NBSP}000,00" in page  # the user's latest ledger entries
    ledger = _text(russian.get(reverse("admin:billing_transaction_changelist")))
    assert f"+12{NBSP}345,50" in ledger and f"11{NBSP}345,50" in ledger
    balances = _text(russian.get(reverse("admin:billing_userbalance_changelist")))
    assert f"11{NBSP}345,50" in balances
    packages = _text(russian.get(reverse("admin:payments_topuppackage_changelist")))
    assert f"12{NBSP}000" in packages and f"2{NBSP}500,00" in packages and f"14{NBSP}500,00" in packages
    promos = _text(russian.get(reverse("admin:promocodes_promokode_changelist")))
    assert f"1{NBSP}500,00" in promos and "12,5%" in promos


@pytest.mark.django_db
def test_the_stats_page_groups_its_figures(russian, make_user):
    user = make_user()
    billing_services.balance_credit(user=user, amount=Decimal("25000"), type=TransactionType.TOPUP)
    stats = _text(russian.get(reverse("admin-stats")))
    assert f"25{NBSP}000,00" in stats


@pytest.mark.django_db
def test_times_are_shown_in_moscow_time_by_default_and_the_zone_is_named(russian, make_user, settings):
    assert settings.TIME_ZONE == "Europe/Moscow"
    user = make_user()
    entry = billing_services.balance_credit(user=user, amount=5)
    Transaction.objects.filter(pk=entry.pk).update(created_at=LATE_EVENING_UTC)
    page = _text(russian.get(reverse("admin:billing_transaction_change", args=[entry.pk])))
    assert "2 марта 2026 г. 0:30" in page
    assert "Время указано по часовому поясу Europe/Moscow (UTC+03:00)" in page


@pytest.mark.django_db
def test_the_time_zone_is_a_setting(russian, make_user, settings):
    settings.TIME_ZONE = "Asia/Yekaterinburg"
    user = make_user()
    entry = billing_services.balance_credit(user=user, amount=5)
    Transaction.objects.filter(pk=entry.pk).update(created_at=LATE_EVENING_UTC)
    page = _text(russian.get(reverse("admin:billing_transaction_changelist")))
    assert "02.03.2026 02:30" in page  # the list's short format, in the configured zone
    assert "Asia/Yekaterinburg (UTC+05:00)" in page
    assert Transaction.objects.get(pk=entry.pk).created_at == LATE_EVENING_UTC  # stored in UTC all along


@pytest.mark.django_db
def test_the_bots_ledger_lines_use_the_same_time_zone(make_user, settings):
    entry = billing_services.balance_credit(user=make_user(), amount=5)
    entry.created_at = LATE_EVENING_UTC
    assert _entry_line(entry).startswith("• 02.03 00:30")
    settings.TIME_ZONE = "UTC"
    assert _entry_line(entry).startswith("• 01.03 21:30")
