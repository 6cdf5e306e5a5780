from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from billing import services as billing_services
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration

GENERATIONS = reverse("admin:generations_imagegeneration_changelist")
AVATARS = reverse("admin:generations_avatar_changelist")

def _messages(response):
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def _charge(user, amount="5", **names):
    """A charge as the services make it: its ledger entry names what it paid for."""
    return billing_services.balance_debit(user=user, amount=amount, description="job",
                                          extra_data={k: str(v) for k, v in names.items()})


@pytest.fixture
def funded(make_user):
    user = make_user()
    billing_services.balance_credit(user=user, amount=10)
    return user


@pytest.mark.django_db
def test_refund_action_gives_back_the_charge_of_a_failed_generation_once(admin_client, funded):
    user = funded
    failed = ImageGeneration.objects.create(user=user, original_prompt="p", final_prompt="p",
                                            status=GenerationStatus.FAILED)
    charge = _charge(user, generation_id=failed.pk)
    ImageGeneration.objects.filter(pk=failed.pk).update(charge=charge)
    data = {"action": "refund_failed", "_selected_action": [str(failed.pk)]}
    admin_client.post(GENERATIONS, data)
    admin_client.post(GENERATIONS, data)
    assert balance_get(user=user) == Decimal("10")
    refund = Transaction.objects.get(type=TransactionType.REFUND)
    assert refund.refund_of_id == charge.pk and refund.created_by == "admin:admin"


@pytest.mark.django_db
def test_refund_action_ignores_generations_that_did_not_fail(admin_client, funded):
    user = funded
    done = ImageGeneration.objects.create(user=user, original_prompt="p", final_prompt="p",
                                          status=GenerationStatus.COMPLETED)
    ImageGeneration.objects.filter(pk=done.pk).update(charge=_charge(user, generation_id=done.pk))
    response = admin_client.post(GENERATIONS, {"action": "refund_failed", "_selected_action": [str(done.pk)]})
    assert [level for level, _text in _messages(response)] == ["warning"]
    assert balance_get(user=user) == Decimal("5")


@pytest.mark.django_db
def test_a_retry_the_service_refuses_is_shown_as_a_message(admin_client, make_user):
    failed = ImageGeneration.objects.create(user=make_user(), original_prompt="p", final_prompt="p",
                                            status=GenerationStatus.FAILED)  # no avatar left to generate with
    response = admin_client.post(GENERATIONS, {"action": "retry_failed", "_selected_action": [str(failed.pk)]})
    assert response.status_code == 302
    assert [level for level, _text in _messages(response)] == ["error"]


@pytest.mark.django_db
def test_avatar_refund_action_refunds_a_failed_training(admin_client, funded):
    user = funded
    avatar = Avatar.objects.create(user=user, name="me", gender="male", status=AvatarStatus.ERROR)
    Avatar.objects.filter(pk=avatar.pk).update(charge=_charge(user, avatar_id=avatar.pk))
    admin_client.post(AVATARS, {"action": "refund_failed_training", "_selected_action": [str(avatar.pk)]})
    assert balance_get(user=user) == Decimal("10")


@pytest.mark.django_db
@pytest.mark.parametrize("refund", ["generation", "avatar"])
def test_a_refund_action_needs_the_adjust_balance_permission_besides_change(staff_client, funded, refund):
    user = funded
    if refund == "generation":
        row = ImageGeneration.objects.create(user=user, original_prompt="p", final_prompt="p",
                                             status=GenerationStatus.FAILED)
        ImageGeneration.objects.filter(pk=row.pk).update(charge=_charge(user, generation_id=row.pk))
        url, action, perm = GENERATIONS, "refund_failed", "generations.change_imagegeneration"
    else:
        row = Avatar.objects.create(user=user, name="me", gender="male", status=AvatarStatus.ERROR)
        Avatar.objects.filter(pk=row.pk).update(charge=_charge(user, avatar_id=row.pk))
        url, action, perm = AVATARS, "refund_failed_training", "generations.change_avatar"
    client = staff_client(perm)
    assert f'value="{action}"'.encode() not in client.get(url).content
    client.post(url, {"action": action, "_selected_action": [str(row.pk)]})
    assert balance_get(user=user) == Decimal("5")
    staff_client("billing.adjust_balance", perm, username="cashier").post(
        url, {"action": action, "_selected_action": [str(row.pk)]})
    assert balance_get(user=user) == Decimal("10")


@pytest.mark.django_db
def test_generation_list_shows_result_thumbnails(admin_client, make_user):
    ImageGeneration.objects.create(user=make_user(), original_prompt="p", final_prompt="p",
                                   status=GenerationStatus.COMPLETED,
                                   result_urls=["https://cdn.example/a.jpg", "javascript:alert(1)"])
    response = admin_client.get(GENERATIONS, {"status__exact": "completed"})
    assert b'<img src="https://cdn.example/a.jpg"' in response.content
    assert b"javascript:alert" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["accounts_user", "billing_transaction", "billing_userbalance",
                                  "payments_topuppackage", "promocodes_promokode", "generations_avatar",
                                  "generations_imagegeneration", "generations_stylecategory",
                                  "generations_stylesubcategory", "generations_styletemplate"])
def test_every_changelist_opens(admin_client, name):
    assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200


@pytest.mark.django_db
def test_avatar_page_shows_photo_thumbnails(admin_client, make_user):
    from generations.models import AvatarPhoto

    user = make_user()
    avatar = Avatar.objects.create(user=user, name="me", gender="female")
    AvatarPhoto.objects.create(avatar=avatar, user=user, upload_order=1, file="avatar-photos/2026/11/one.jpg")
    AvatarPhoto.objects.create(avatar=avatar, user=user, upload_order=2)  # no file: nothing to show
    response = admin_client.get(reverse("admin:generations_avatar_change", args=[avatar.pk]))
    assert response.status_code == 200
    assert response.content.count(b'<img src="/media/avatar-photos/2026/11/one.jpg"') == 1


@pytest.mark.django_db
@pytest.mark.parametrize("refund", ["generation", "avatar"])
def test_a_refund_action_reports_only_the_refunds_it_made_now(admin_client, funded, refund):
    """Issue 16: a row refunded before (by the failing job itself) is "nothing to do", not "refunded: 1"."""
    user = funded
    if refund == "generation":
        row = ImageGeneration.objects.create(user=user, original_prompt="p", final_prompt="p",
                                             status=GenerationStatus.FAILED)
        ImageGeneration.objects.filter(pk=row.pk).update(charge=_charge(user, generation_id=row.pk))
        url, action = GENERATIONS, "refund_failed"
    else:
        row = Avatar.objects.create(user=user, name="me", gender="male", status=AvatarStatus.ERROR)
        Avatar.objects.filter(pk=row.pk).update(charge=_charge(user, avatar_id=row.pk))
        url, action = AVATARS, "refund_failed_training"
    data = {"action": action, "_selected_action": [str(row.pk)]}
    admin_client.post(url, data)
    again = admin_client.post(url, data)
    # The messages of both requests (the first one's redirect was not followed): one success, then "nothing to do".
    assert [level for level, _text in _messages(again)] == ["success", "warning"]
    assert balance_get(user=user) == Decimal("10") and Transaction.objects.filter(
        type=TransactionType.REFUND).count() == 1
