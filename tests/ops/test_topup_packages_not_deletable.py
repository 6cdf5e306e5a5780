"""Top-up packages are switched off, never deleted, in the admin: unpaid invoices still name them."""

import pytest
from django.urls import reverse

from billing.models import TopUpPackage


@pytest.mark.django_db
def test_nobody_not_even_a_superuser_deletes_a_top_up_package_in_the_admin(admin_client):
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    delete_url = reverse("admin:billing_topuppackage_delete", args=[package.pk])
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:billing_topuppackage_changelist")
    admin_client.post(changelist, {"action": "delete_selected", "_selected_action": [package.pk], "post": "yes"})
    assert TopUpPackage.objects.filter(pk=package.pk).exists()
    page = admin_client.get(changelist)
    assert page.status_code == 200 and b'value="delete_selected"' not in page.content
    assert b"is_active" in page.content  # switching it off stays one click in the list
