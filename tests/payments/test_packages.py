"""Top-up packages: seeded on a fresh database, and switched off, never deleted, in the admin (unpaid invoices
still name them)."""

import pytest
from django.urls import reverse

from payments.models import TopUpPackage
from payments.selectors import topup_package_list_active


@pytest.mark.django_db
def test_nobody_not_even_a_superuser_deletes_a_top_up_package_in_the_admin(admin_client):
    package = TopUpPackage.objects.create(title="P", stars=100, credits=100)
    delete_url = reverse("admin:payments_topuppackage_delete", args=[package.pk])
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:payments_topuppackage_changelist")
    admin_client.post(changelist, {"action": "delete_selected", "_selected_action": [package.pk], "post": "yes"})
    assert TopUpPackage.objects.filter(pk=package.pk).exists()
    page = admin_client.get(changelist)
    assert page.status_code == 200 and b'value="delete_selected"' not in page.content
    assert b"is_active" in page.content  # switching it off stays one click in the list


@pytest.mark.django_db
def test_topup_packages_are_seeded():
    packages = topup_package_list_active()
    assert len(packages) >= 3
    assert all(p.stars > 0 and p.total_credits > 0 for p in packages)
