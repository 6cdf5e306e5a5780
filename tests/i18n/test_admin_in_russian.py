"""Every admin page reads in Russian: no English text of ours on any changelist, add or change form, history,
delete confirmation, intermediate form, message, the stats page or the index.

Each page's visible text (tag text, option labels, titles, placeholders, button labels; not scripts, styles, form
field contents or JSON data) is checked twice: no English msgid of the Russian catalogue may appear in it, and no
Latin word may appear in it except names and codes (LATIN_KEPT) and the test data's own words (identifiers with
digits, underscores, @ or dots are data too). New models and admin pages are covered as they are registered.
"""

import functools
import json
import re
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from billing import ledger_texts, services as billing_services
from billing.ledger_texts import describe
from billing.models import Transaction, TransactionType
from botworker.failed_updates import failed_update_record
from broadcasts import tasks as broadcast_tasks
from broadcasts.delivery import INTERRUPTED
from broadcasts.models import Broadcast, BroadcastRecipient, BroadcastStatus, RecipientStatus
from generations.models import (
    Avatar, AvatarPhoto, AvatarStatus, GenerationStatus, ImageGeneration, PhotoValidationStatus, StyleCategory,
    StyleSubcategory, StyleTemplate,
)
from payments.invoices import invoice_parse
from payments.models import TopUpPackage
from payments.services.credit import payment_mismatch, stars_payment_flag
from promocodes import services as promo_services

pytestmark = pytest.mark.django_db

RU_PO = Path(settings.BASE_DIR) / "locale" / "ru" / "LC_MESSAGES" / "django.po"
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Names, codes and abbreviations that Russian pages keep in Latin letters.
LATIN_KEPT = {"Telegram", "Premium", "LoRA", "FAL", "HTML", "CSV", "URL", "UTC", "ID", "id", "Aisha", "N", "XTR",
              "FLUX", "Imagen"}  # the generator models' names
# The test data's own Latin words: an operator login, users' language codes, a style the seeded catalogue names in
# English (the catalogue's keys are added by data_words()).
DATA_WORDS = {"operator", "ru", "en", "Smart", "casual", "message"}  # "message": a Telegram update type
# Texts of other projects that stay English in Russian: django-tasks-db labels two columns and its rows with plain
# strings, Django's own Russian keeps key and product names, and names its many-to-many rows in English.
THIRD_PARTY = {
    "/admin/django_tasks_database/": {"Id", "Task", "name", "Traceback", "Run", "after", "DBTaskResult",
                                      "object", "default"},
    "/admin/auth/": {"Control", "Command", "Mac", "LDAP", "Single", "Sing", "Sign", "On", "Group", "group",
                     "permission", "object", "User", "user", "relationship"},
}
IDENTIFIER = re.compile(r"[\d_@./:#=<>{}\[\]\"*]")
JSON_READONLY = re.compile(r'<div class="readonly">(.*?)</div>', re.DOTALL)


class VisibleText(HTMLParser):
    """The text a person reads: tag text and option labels, titles, placeholders and button labels."""

    HIDDEN = {"script", "style", "textarea", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.HIDDEN:
            self.hidden += 1
        self.parts += [attrs[name] for name in ("title", "placeholder", "aria-label") if attrs.get(name)]
        if tag == "input" and attrs.get("type") in ("submit", "button", "reset") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def _without_json(html: str) -> str:
    """Read-only JSON fields (extra data, provider responses) are data, not interface."""

    def drop(match):
        try:
            return "" if isinstance(json.loads(unescape(match.group(1))), (dict, list)) else match.group(0)
        except ValueError:
            return match.group(0)

    return JSON_READONLY.sub(drop, html)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(_without_json(html))
    return re.sub(r"[ \t\r\n\f\v]+", " ", " ".join(parser.parts)).strip()  # no-break spaces are kept


def latin_words(text: str, allowed: set[str]) -> set[str]:
    found = set()
    for token in text.split():
        token = token.strip(".,;:!?()«»“”\"'…—–-·|›‹%")
        if not token or IDENTIFIER.search(token):
            continue
        found |= {word for word in re.findall(r"[A-Za-z]+", token) if word not in allowed}
    return found


@functools.cache
def english_msgids() -> list[tuple[str, re.Pattern]]:
    """The catalogue's English msgids that have a different Russian text, as patterns (placeholders: anything)."""
    patterns = []
    for entry in polib.pofile(str(RU_PO)):
        if entry.obsolete or re.search("[А-Яа-яЁё]", entry.msgid):
            continue
        for text, russian in ((entry.msgid, entry.msgstr or entry.msgstr_plural.get(0)),
                              (entry.msgid_plural, entry.msgstr_plural.get(2))):
            if not text or text == russian:
                continue
            parts = [re.escape(p) for p in _literal_parts(text)]
            pattern = r".+?".join(parts)
            if re.match(r"\w", text):
                pattern = r"\b" + pattern
            if re.search(r"\w$", text):
                pattern += r"\b"
            patterns.append((text, re.compile(pattern)))
    return patterns


@functools.cache
def _literal_parts(msgid: str) -> tuple[str, ...]:
    """A msgid's text around its placeholders: a page can hold the msgid only if it holds every part (a cheap test
    before the pattern, which is slow on long pages)."""
    return tuple(re.split(r"%\(\w+\)[sd]|%[sd]", " ".join(msgid.split())))


def data_words() -> set[str]:
    """The Latin words of the seeded style catalogue's keys (shown in its lists as identifiers)."""
    keys = [*StyleCategory.objects.values_list("id", flat=True), *StyleSubcategory.objects.values_list("id", flat=True)]
    return DATA_WORDS | set(re.findall(r"[A-Za-z]+", " ".join(keys)))


def _whole_words(text: str, match: re.Match) -> str:
    """The words a msgid's match lies in, so that a match inside an identifier (the "broadcasts" of a task path
    such as broadcasts.tasks.broadcast_deliver) is data like the identifier."""
    start = text.rfind(" ", 0, match.start()) + 1
    end = text.find(" ", match.end())
    return text[start:] if end < 0 else text[start:end]


def problems_of(url: str, html: str, *, data: set[str] = DATA_WORDS) -> list[str]:
    text = visible_text(html)
    allowed = LATIN_KEPT | data
    for prefix, words in THIRD_PARTY.items():
        if url.startswith(prefix):
            allowed = allowed | words
    found = [f"{url}: English msgid {msgid!r}" for msgid, pattern in english_msgids()
             if all(part in text for part in _literal_parts(msgid))
             and any(latin_words(_whole_words(text, match), allowed) for match in pattern.finditer(text))]
    if words := latin_words(text, allowed):
        found.append(f"{url}: Latin words {sorted(words)} in: {text[:3000]}")
    return found


@pytest.fixture
def russian_admin(db, django_user_model):
    operator = django_user_model.objects.create_superuser(username="operator", password="pw", email="o@example.com")
    client = Client(headers={"Accept-Language": "ru"})
    client.force_login(operator)
    yield client
    translation.deactivate()


@pytest.fixture
def every_model(make_user, settings):
    """At least one row of every model the admin shows, written as the services write them."""
    settings.TASKS = DB_TASKS  # task results as rows, so that their pages exist
    ivan = make_user(telegram_id=424242, username="ivan_petrov", first_name="Иван", last_name="Петров")
    anna = make_user(telegram_id=434343, first_name="Анна")
    topup = billing_services.balance_credit(
        user=ivan, amount=Decimal("12345.50"), type=TransactionType.TOPUP, idempotency_key="stars:charge-1",
        description=describe(ledger_texts.STARS_TOPUP, package="Старт"), created_by="telegram",
        extra_data={"telegram_payment_charge_id": "charge-1", "stars": 150},
    )
    promo = promo_services.promo_code_create(code="VESNA25", type="balance", balance_amount=Decimal("1500"),
                                             max_uses=100, description="Весенняя акция")
    promo_services.promo_code_activate(user=ivan, code="VESNA25")
    promo_services.promo_code_create(code="SKIDKA10", type="discount", discount_percent=Decimal("12.5"))
    charge = billing_services.balance_debit(user=ivan, amount=5, description=describe(
        ledger_texts.IMAGE_GENERATION, count=2), created_by="bot")
    for template in (ledger_texts.AVATAR_TRAINING, ledger_texts.STARS_REFUND):
        billing_services.balance_debit(user=ivan, amount=1, type=TransactionType.CHARGE, description=describe(
            template, name="Аня", entry=topup.pk, author="admin:operator"))
    billing_services.balance_refund(entry=charge)  # "Reversal of entry #N"
    billing_services.balance_adjust(user=anna, amount=7, reason="компенсация", created_by="admin:operator")
    avatar = Avatar.objects.create(user=ivan, name="Аня", gender="female", status=AvatarStatus.ERROR,
                                   training_error="")
    AvatarPhoto.objects.create(avatar=avatar, user=ivan, upload_order=1, validation_status=PhotoValidationStatus.VALID)
    generation = ImageGeneration.objects.create(user=ivan, avatar=avatar, original_prompt="портрет в саду",
                                                final_prompt="портрет в саду", status=GenerationStatus.FAILED)
    # A charge names its generation, as the services write it (refunds give back only a row's own charge).
    own_charge = billing_services.balance_debit(
        user=ivan, amount=5, description=describe(ledger_texts.IMAGE_GENERATION, count=1), created_by="bot",
        extra_data={"generation_id": str(generation.pk)})
    ImageGeneration.objects.filter(pk=generation.pk).update(charge=own_charge)
    draft = Broadcast.objects.create(title="Весна", text="<b>Скидки</b> до пятницы", created_by="operator")
    paused = Broadcast.objects.create(title="Осень", text="Привет", status=BroadcastStatus.PAUSED)
    BroadcastRecipient.objects.create(broadcast=paused, user=anna, telegram_id=anna.telegram_id,
                                      status=RecipientStatus.FAILED, error=INTERRUPTED)
    group = Group.objects.create(name="Операторы")
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=["billing", "payments", "accounts"]))
    broadcast_tasks.broadcasts_resume_running.enqueue()
    payload = f"topup:{ivan.telegram_id}:1:150:-"
    stars_payment_flag(telegram_payment_charge_id="stx2a9f", payer_telegram_id=anna.telegram_id,
                       payload=payload, currency="XTR", total_amount=150,
                       reason=payment_mismatch(invoice=invoice_parse(payload), payer_telegram_id=anna.telegram_id,
                                               currency="XTR", total_amount=150))
    failed_update_record(update_id=77, payload={"update_id": 77, "message": {"text": "/start"}}, update_type="message",
                         telegram_user_id=anna.telegram_id, error=ConnectionError("база данных недоступна"),
                         attempts=5)
    # The style catalogue and the Stars packages come from data migrations, which an earlier test with
    # transaction=True may have flushed: make sure they have rows.
    if not TopUpPackage.objects.exists():
        TopUpPackage.objects.create(title="Старт", stars=150, credits=Decimal("100"), bonus_credits=Decimal("10"))
    category, _created = StyleCategory.objects.get_or_create(id="portrait", defaults={"name": "Портрет", "icon": "🎨"})
    subcategory, _created = StyleSubcategory.objects.get_or_create(id="portrait-studio",
                                                            defaults={"name": "Студия", "category": category})
    StyleTemplate.objects.get_or_create(id="portrait-studio-1", defaults={
        "name": "Студийный портрет", "prompt": "студийный портрет", "subcategory": subcategory})
    return {"ivan": ivan, "anna": anna, "topup": topup, "promo": promo, "avatar": avatar, "generation": generation,
            "draft": draft, "paused": paused}


def admin_pages(every_model) -> list[str]:
    """The index, every app's page, and each registered model's list, add form, and for one row its change,
    history and delete pages (those the superuser may open)."""
    urls = [reverse("admin:index"), reverse("admin-stats"), reverse("admin:password_change")]
    for model, model_admin in admin.site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        urls += [reverse("admin:app_list", args=[info[0]]), reverse("admin:%s_%s_changelist" % info)]
        urls.append(reverse("admin:%s_%s_changelist" % info) + "?q=Иван")
        request = _superuser_request()
        if model_admin.has_add_permission(request):
            urls.append(reverse("admin:%s_%s_add" % info))
        row = model._default_manager.order_by("pk").last()
        assert row is not None, f"no row of {model.__name__}: add one to every_model"
        urls += [reverse("admin:%s_%s_change" % info, args=[row.pk]),
                 reverse("admin:%s_%s_history" % info, args=[row.pk])]
        if model_admin.has_delete_permission(request, row):
            urls.append(reverse("admin:%s_%s_delete" % info, args=[row.pk]))
    return sorted(set(urls))


def _superuser_request():
    request = RequestFactory().get("/")
    request.user = _operator()
    return request


def _operator():
    return get_user_model().objects.get(username="operator")


def test_every_admin_page_is_in_russian(russian_admin, every_model):
    data = data_words()
    assert len(english_msgids()) > 300
    problems, seen = [], 0
    for url in admin_pages(every_model):
        response = russian_admin.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert '<html lang="ru"' in response.content.decode()
        problems += problems_of(url, response.content.decode(), data=data)
        seen += 1
    assert seen > 60
    assert problems == [], "\n".join(problems)


class Walk:
    """Posts forms as an operator would and collects the English it meets on the resulting pages."""

    def __init__(self, client):
        self.client, self.problems = client, []

    def post(self, url: str, data: dict, *, expect: str) -> str:
        response = self.client.post(url, data, follow=True)
        assert response.status_code == 200, (url, data, response.status_code)
        html = response.content.decode()
        self.problems += problems_of(f"POST {url} {sorted(data)}", html)
        text = visible_text(html)
        assert expect in text, (url, data, expect, text[-3000:])
        return text


def test_every_intermediate_form_action_and_message_is_in_russian(russian_admin, every_model):
    ivan, anna = every_model["ivan"], every_model["anna"]
    users = reverse("admin:accounts_user_changelist")
    selected = {"_selected_action": [str(ivan.pk), str(anna.pk)]}
    walk = Walk(russian_admin)
    # Adjust balance: the form, its errors, a refusal (more than the balance), a success and its repeat.
    adjust = {"action": "adjust_balance", "apply": "yes", **selected}
    walk.post(users, {"action": "adjust_balance", **selected}, expect="Изменение относится к каждому из 2")
    walk.post(users, {**adjust, "amount": "", "sign": "credit", "reason": ""}, expect="Обязательное поле.")
    walk.post(users, {**adjust, "amount": "99999", "sign": "debit", "reason": "проверка"},
              expect="Крупное изменение: -99\xa0999,00 монет. Проверьте новый баланс и подтвердите.")
    walk.post(users, {**adjust, "amount": "99999", "sign": "debit", "reason": "проверка", "confirmed": "1"},
              expect="отказано: Недостаточно монет: на балансе 7,00, нужно 99\xa0999,00.")
    repeat = {**adjust, "amount": "1000,5", "sign": "credit", "reason": "бонус",
              "nonce": "8d7f1c1e-2a52-4d3c-9a83-5d7a8c1b2e11"}
    walk.post(users, repeat, expect="Анна (434343): +1\xa0000,50 монет, баланс теперь 1\xa0007,50.")
    walk.post(users, repeat, expect="эта форма уже была применена (+1\xa0000,50 монет,")
    # A user's page: "Adjust balance" for them (the form, a large amount's second question), "Send a message"
    # (refused without a bot token, as in tests).
    own_adjust = reverse("admin:accounts_user_adjust_balance", args=[anna.pk])
    walk.problems += problems_of(own_adjust, russian_admin.get(own_adjust).content.decode())
    walk.post(own_adjust, {"amount": "20000", "sign": "credit", "reason": "бонус"}, expect="новый баланс")
    send = reverse("admin:accounts_user_send_message", args=[anna.pk])
    walk.problems += problems_of(send, russian_admin.get(send).content.decode())
    walk.post(send, {"text": "Здравствуйте"}, expect="Не отправлено: Не задан BOT_TOKEN")
    walk.post(users, {"action": "block_users", **selected}, expect="2 пользователя заблокированы.")
    walk.post(users, {"action": "unblock_users", **selected}, expect="2 пользователя разблокированы.")
    # Promo codes: generate (a field error, a refusal of the terms, the result), an add refused, deactivate.
    bulk = reverse("admin:promocodes_promokode_bulk_generate")
    walk.problems += problems_of(bulk, russian_admin.get(bulk).content.decode())
    terms = {"count": "3", "prefix": "OSEN1", "length": "8", "type": "balance", "balance_amount": "50",
             "max_uses": "1", "max_uses_per_user": "1"}
    walk.post(bulk, {**terms, "count": "0"}, expect="Убедитесь, что это значение больше либо равно 1.")
    walk.post(bulk, {**terms, "type": "discount", "balance_amount": ""},
              expect="Для этого типа кода нужно положительное значение поля «скидка, %».")
    walk.post(bulk, terms, expect="Создано 3 кода.")
    walk.post(reverse("admin:promocodes_promokode_add"),
              {"code": "VESNA25", "type": "balance", "balance_amount": "10", "max_uses_per_user": "1"},
              expect="Код VESNA25 уже существует.")
    walk.post(reverse("admin:promocodes_promokode_changelist"),
              {"action": "deactivate", "_selected_action": [str(every_model["promo"].pk)]}, expect="1 код отключён.")
    # Avatars and generations: the refund and retry actions and their reports.
    generations = reverse("admin:generations_imagegeneration_changelist")
    failed = {"_selected_action": [str(every_model["generation"].pk)]}
    walk.post(generations, {"action": "refund_failed", **failed}, expect="Возвращено за генерации: 1.")
    walk.post(generations, {"action": "retry_failed", **failed}, expect="аватар недоступен")
    walk.post(reverse("admin:generations_avatar_changelist"),
              {"action": "refund_failed_training", "_selected_action": [str(every_model["avatar"].pk)]},
              expect="Для 1 из них делать нечего.")
    # Broadcasts: a refused text, a start that nobody matches, saving, and the buttons of another state.
    draft = reverse("admin:broadcasts_broadcast_change", args=[every_model["draft"].pk])
    content = {"title": "Весна", "text": "<b>Скидки</b> до пятницы", "button_text": "", "button_url": "",
               "audience": "telegram_ids", "inactive_days": "", "telegram_ids": "999", "preview_chat_id": ""}
    walk.post(draft, {**content, "text": "<div>нет</div>", "_continue": "1"},
              expect="Telegram не поддерживает <div>")
    walk.post(draft, {**content, "_start": "1"}, expect="В выбранную аудиторию никто не попадает.")
    walk.post(reverse("admin:broadcasts_broadcast_add"), {**content, "_continue": "1"}, expect="Запустить рассылку")
    walk.post(reverse("admin:broadcasts_broadcast_change", args=[every_model["paused"].pk]), {"_pause": "1"},
              expect="Приостановить можно только идущую рассылку.")
    assert walk.problems == [], "\n".join(walk.problems)


def test_ledger_descriptions_written_by_our_services_are_shown_in_the_operators_language(russian_admin,
                                                                                          every_model):
    page = russian_admin.get(reverse("admin:billing_transaction_changelist")).content.decode()
    text = visible_text(page)
    for shown in ("Звёзды Telegram: Старт", "Промокод VESNA25", "Генерация изображений ×2", "Обучение аватара: Аня",
                  f"Возврат звёзд Telegram по операции #{every_model['topup'].pk}, оформил admin:operator",
                  "компенсация"):
        assert shown in text
    assert "Reversal of entry" not in text and re.search(r"Сторно операции #\d+", text)
    # Stored as written, for exports and older tools.
    assert Transaction.objects.filter(description="Promo code VESNA25").exists()
    english = Client(headers={"Accept-Language": "en"})
    english.force_login(_operator())
    assert "Promo code VESNA25" in english.get(reverse("admin:billing_transaction_changelist")).content.decode()


def test_the_check_itself_finds_english_texts_of_ours():
    html = ('<html><body><h1>Выберите пользователя бота</h1><p>Export CSV</p><input type="submit" value="Apply">'
            '<script>var english = "anything";</script><div class="readonly">{"reverses": 5, "ok": true}</div>'
            '<p>ivan_petrov VESNA25 @anna 12:30 Telegram broadcasts.tasks.broadcast_deliver</p>'
            '<a title="Show all">Все</a></body></html>')
    text = visible_text(html)
    assert "anything" not in text and "reverses" not in text
    assert latin_words(text, LATIN_KEPT) == {"Export", "Apply", "Show", "all"}
    found = problems_of("/x/", html)
    assert found[:2] == ["/x/: English msgid 'Apply'", "/x/: English msgid 'Export CSV'"]
    assert found[2].startswith("/x/: Latin words ['Apply', 'Export', 'Show', 'all']") and len(found) == 3
