"""Intermediate forms look like the admin's own: its widgets, date and time pickers where dates are asked, and
styled submit buttons."""

from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from promocodes.models import Promokode

pytestmark = pytest.mark.django_db
BULK = reverse("admin:promocodes_promokode_bulk_generate")


def test_generate_codes_uses_the_admins_widgets_and_date_pickers(admin_client):
    html = admin_client.get(BULK).content.decode()
    assert 'class="vDateField"' in html and 'class="vTimeField"' in html  # the admin's calendar and clock
    assert "admin/js/admin/DateTimeShortcuts.js" in html and "admin/js/core.js" in html and "jsi18n" in html
    assert 'class="vIntegerField"' in html and 'class="vTextField"' in html
    assert '<input type="submit" class="default"' in html
    # The admin's form styles (aligned rows; the calendar and clock icons come with them, from widgets.css).
    assert "admin/css/forms.css" in html and '<fieldset class="module aligned">' in html


def test_generate_codes_takes_the_date_and_time_from_the_pickers(admin_client):
    data = {"count": "2", "prefix": "LETO", "length": "8", "type": "balance", "balance_amount": "10",
            "max_uses": "1", "max_uses_per_user": "1", "valid_until_0": "2031-07-15", "valid_until_1": "18:30:00"}
    response = admin_client.post(BULK, data)
    assert response.status_code == 200, response.content
    codes = Promokode.objects.filter(code__startswith="LETO")
    assert codes.count() == 2
    expected = timezone.make_aware(datetime(2031, 7, 15, 18, 30))
    assert {code.valid_until for code in codes} == {expected}


def test_send_a_message_form_uses_the_admins_widgets(admin_client, make_user):
    html = admin_client.get(reverse("admin:accounts_user_send_message", args=[make_user().pk])).content.decode()
    assert 'class="vLargeTextField"' in html and '<input type="submit" class="default"' in html
