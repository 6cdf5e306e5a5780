"""An operator's session in a real Chromium: log in, read the stats, find a user, adjust the balance, see the entry."""

import os
import shutil
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.conf import settings

from billing import services as billing_services
from billing.models import Transaction, TransactionType

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
SHOTS = settings.BASE_DIR / "test-artifacts" / "admin"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Chromium is not installed (apt-get install chromium)"),
]


@contextmanager
def chromium_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            browser.close()


@pytest.mark.django_db(transaction=True)
def test_an_operator_adjusts_a_balance_through_the_admin(live_server, django_user_model, make_user):
    # The ORM is used only before and after the browser runs: under Playwright's event loop Django would open
    # a second connection (and refuse without DJANGO_ALLOW_ASYNC_UNSAFE).
    django_user_model.objects.create_superuser(username="operator", password="s3cret-pass", email="op@example.com")
    user = make_user(telegram_id=424242, username="buyer", first_name="Ivan")
    make_user(telegram_id=4242420, username="other")
    billing_services.balance_credit(user=user, amount=10, type=TransactionType.TOPUP, idempotency_key="stars:b1")
    with chromium_page() as page:
        _operator_session(page, live_server.url, user_pk=user.pk)

    entry = Transaction.objects.get(user=user, type=TransactionType.ADJUSTMENT)
    assert (entry.amount, entry.balance_after, entry.created_by) == (
        Decimal("15.50"), Decimal("25.50"), "admin:operator"
    )
    assert os.path.getsize(SHOTS / "5-ledger.png") > 1000


def _operator_session(page, base_url: str, *, user_pk) -> None:
    page.goto(f"{base_url}/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("#stats-link")

    page.click("#stats-link")
    page.wait_for_selector("svg.stats-chart")
    assert page.locator("svg.stats-chart").count() == 6  # Stars, active users, new users, top-ups, spending, generations
    assert page.inner_text("#users-total .number") == "2"
    page.screenshot(path=str(SHOTS / "1-stats.png"), full_page=True)

    page.goto(f"{base_url}/admin/accounts/user/")
    page.fill("#searchbar", "424242")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**q=424242**")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "buyer" in rows.first.inner_text()
    page.screenshot(path=str(SHOTS / "2-search.png"), full_page=True)

    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "adjust_balance")
    page.click("button[name=index]")
    page.wait_for_selector("#adjust-balance-form")
    page.fill("#id_amount", "15.50")
    page.check("input[name=sign][value=credit]")
    page.fill("#id_reason", "compensation for a failed generation")
    page.screenshot(path=str(SHOTS / "3-adjust-form.png"), full_page=True)
    page.click("#adjust-balance-form input[type=submit]")
    page.wait_for_selector("ul.messagelist li.success")
    assert "25.50" in page.inner_text("ul.messagelist")
    page.screenshot(path=str(SHOTS / "4-adjusted.png"), full_page=True)

    page.goto(f"{base_url}/admin/accounts/user/{user_pk}/change/")
    ledger = page.locator(".inline-group").first
    ledger.wait_for()
    assert "compensation for a failed generation" in ledger.inner_text()
    assert "admin:operator" in ledger.inner_text()
    page.screenshot(path=str(SHOTS / "5-ledger.png"), full_page=True)
