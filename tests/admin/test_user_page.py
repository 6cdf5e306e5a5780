"""A user's page: their avatars, generations, promo code activations and ledger (newest first, capped, with "Show
all" leading to the list filtered on the user), a tg:// link, and "Send a message" through the bot as a task."""

import logging
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from billing import services as billing_services
from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration
from promocodes import services as promo_services

pytestmark = pytest.mark.django_db


def _page(client, user):
    return client.get(reverse("admin:accounts_user_change", args=[user.pk]))


def _inline(response, model):
    return next(f for f in response.context["inline_admin_formsets"] if f.opts.model is model)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_page_shows_the_users_avatars_and_generations_newest_first_capped(admin_client, make_user):
    user, other = make_user(), make_user()
    for n in range(12):
        avatar = Avatar.objects.create(user=user, name=f"ava-{n}", gender="female", status=AvatarStatus.COMPLETED)
        Avatar.objects.filter(pk=avatar.pk).update(created_at=avatar.created_at.replace(year=2020 + n))
        generation = ImageGeneration.objects.create(user=user, original_prompt=f"prompt-{n}", final_prompt="x",
                                                    status=GenerationStatus.COMPLETED)
        ImageGeneration.objects.filter(pk=generation.pk).update(created_at=generation.created_at.replace(year=2000 + n))
    Avatar.objects.create(user=other, name="not-theirs", gender="male")
    response = _page(admin_client, user)
    avatars = [form.instance.name for form in _inline(response, Avatar).formset.forms]
    assert avatars == [f"ava-{n}" for n in range(11, 1, -1)]
    prompts = [form.instance.original_prompt for form in _inline(response, ImageGeneration).formset.forms]
    assert prompts == [f"prompt-{n}" for n in range(11, 1, -1)]
    html = response.content.decode()
    assert "not-theirs" not in html
    show_all = reverse("admin:generations_avatar_changelist") + f"?user__id__exact={user.pk}"
    assert f'href="{show_all}"' in html
    listed = admin_client.get(show_all).context["cl"].result_list
    assert len(listed) == 12 and {a.user_id for a in listed} == {user.pk}


def test_the_page_shows_promo_code_activations_and_the_ledger_with_show_all_links(admin_client, make_user):
    user, other = make_user(), make_user()
    promo_services.promo_code_create(code="VESNA25", type="balance", balance_amount=Decimal("15"), max_uses=10)
    promo_services.promo_code_activate(user=user, code="VESNA25")
    promo_services.promo_code_activate(user=other, code="VESNA25")
    billing_services.balance_credit(user=other, amount=3)
    response = _page(admin_client, user)
    from promocodes.models import PromokodeUsage
    from billing.models import Transaction

    usages = _inline(response, PromokodeUsage).formset.forms
    assert [form.instance.promokode.code for form in usages] == ["VESNA25"]
    assert [form.instance.user_id for form in _inline(response, Transaction).formset.forms] == [user.pk]
    html = response.content.decode()
    for model in ("promocodes_promokodeusage", "billing_transaction"):
        url = reverse(f"admin:{model}_changelist") + f"?user__id__exact={user.pk}"
        assert f'href="{url}"' in html
        rows = admin_client.get(url).context["cl"].result_list
        assert [row.user_id for row in rows] == [user.pk]


def test_the_page_links_to_the_user_in_telegram(admin_client, make_user):
    user = make_user(telegram_id=555001)
    assert 'href="tg://user?id=555001"' in _page(admin_client, user).content.decode()


def test_action_buttons_on_the_page_are_admin_object_tools(admin_client, make_user):
    user = make_user()
    html = _page(admin_client, user).content.decode()
    tools = html[html.index('<ul class="object-tools">'):]
    tools = tools[:tools.index("</ul>")]
    for element_id in ("send-message-link", "adjust-balance-link"):
        assert f'id="{element_id}"' in tools
    assert "<button" not in tools  # links, drawn as the admin's own buttons


def test_send_a_message_goes_through_the_bot_as_a_task_after_commit(admin_client, make_user, bot_api,
                                                                   django_capture_on_commit_callbacks):
    user = make_user(telegram_id=555002)
    url = reverse("admin:accounts_user_send_message", args=[user.pk])
    form = admin_client.get(url)
    assert form.status_code == 200 and b'class="default"' in form.content and b'name="text"' in form.content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(url, {"text": "Здравствуйте! <b>не разметка</b>"})
    assert response.status_code == 302 and response.url == reverse("admin:accounts_user_change", args=[user.pk])
    assert bot_api.calls_of("sendMessage") == []  # nothing sent before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    [call] = bot_api.calls_of("sendMessage")
    assert call.json("chat_id") == 555002 and call.text == "Здравствуйте! <b>не разметка</b>"
    assert call.json("parse_mode") is None
    assert any("queued" in m for m in _messages(response))


def test_send_a_message_is_refused_clearly_without_a_bot_token(admin_client, make_user, settings,
                                                               django_capture_on_commit_callbacks):
    settings.BOT_TOKEN = ""
    user = make_user()
    url = reverse("admin:accounts_user_send_message", args=[user.pk])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(url, {"text": "привет"}, follow=True)
    assert callbacks == []
    assert any("BOT_TOKEN is not set" in m for m in _messages(response))
    assert b'id="send-message-form"' in response.content  # the form again, with the text kept
    assert "привет" in response.content.decode()


def test_a_message_telegram_refuses_fails_its_task_and_is_logged(admin_client, make_user, bot_api, caplog,
                                                                 django_capture_on_commit_callbacks):
    user = make_user(telegram_id=555003)
    bot_api.block_user(555003)
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:accounts_user_send_message", args=[user.pk]), {"text": "привет"})
    [record] = [r for r in caplog.records if r.name == "accounts.operator_messages"]
    assert "555003" in record.getMessage() and "bot was blocked by the user" in record.getMessage()
    failed = [r for r in caplog.records if r.name.startswith("django_tasks") and "MessageNotDelivered" in r.getMessage()
              + str(r.exc_info)]
    assert failed, [r.getMessage() for r in caplog.records]


def test_staff_without_the_change_permission_cannot_send(staff_client, make_user, bot_api):
    client = staff_client("accounts.view_user")
    user = make_user()
    assert b"send-message-link" not in _page(client, user).content
    response = client.post(reverse("admin:accounts_user_send_message", args=[user.pk]), {"text": "x"})
    assert response.status_code == 403
    assert bot_api.calls_of("sendMessage") == []
