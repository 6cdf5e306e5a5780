"""Ledger descriptions are stored in English (exports, older tools) and shown in the operator's language."""

from decimal import Decimal

import pytest
from django.utils import translation

from billing import ledger_texts, services
from billing.ledger_texts import describe, description_display
from billing.models import TransactionType
from promocodes import services as promo_services

EXAMPLES = {
    ledger_texts.AVATAR_TRAINING: ({"name": "Аня: вторая"}, "Обучение аватара: Аня: вторая"),
    ledger_texts.AVATAR_TRAINING_REFUND: ({"name": "Аня"}, "Возврат: обучение аватара не удалось (Аня)"),
    ledger_texts.IMAGE_GENERATION: ({"count": 4}, "Генерация изображений ×4"),
    ledger_texts.IMAGE_GENERATION_REFUND: ({}, "Возврат: генерация изображений не удалась"),
    ledger_texts.STARS_TOPUP: ({"package": "150 ⭐"}, "Звёзды Telegram: 150 ⭐"),
    ledger_texts.STARS_TOPUP_RECONCILED: ({"package": "Старт"}, "Звёзды Telegram (после сверки): Старт"),
    ledger_texts.STARS_REFUND: ({"entry": 17, "author": "admin:olga"},
                                "Возврат звёзд Telegram по операции #17, оформил admin:olga"),
    ledger_texts.STARS_REFUND_REFUSED: ({"entry": "12"}, "Telegram отказал в возврате звёзд по операции #12: монеты возвращены"),
    ledger_texts.STARS_REFUND_OUTSIDE: ({}, "Платёж звёздами Telegram возвращён вне бота"),
    ledger_texts.PROMO_CODE: ({"code": "VESNA"}, "Промокод VESNA"),
    ledger_texts.PROMO_CODE_BONUS: ({}, "Бонус по промокоду к пополнению"),
    ledger_texts.REVERSAL: ({"entry": 5}, "Сторно операции #5"),
    ledger_texts.OPENING_BALANCE: ({}, "Баланс, перенесённый из прежнего сервиса"),
    ledger_texts.OPERATOR_TOPUP: ({}, "Пополнение оператором"),
}


def test_every_template_has_an_example():
    assert set(EXAMPLES) == set(ledger_texts.TEMPLATES) - {ledger_texts.PROMO_BONUS_REVERSAL}


@pytest.mark.parametrize("template", EXAMPLES)
def test_a_stored_description_is_shown_translated_with_its_values(template):
    values, russian = EXAMPLES[template]
    stored = describe(template, **values)
    with translation.override("ru"):
        assert description_display(stored) == russian
    with translation.override("en"):
        assert description_display(stored) == stored


def test_the_promo_bonus_of_a_refund_is_shown_with_its_refund_translated_too():
    stored = describe(ledger_texts.PROMO_BONUS_REVERSAL,
                      description=describe(ledger_texts.STARS_REFUND, entry=9, author="admin:olga"))
    assert stored == "Telegram Stars refund of entry #9 by admin:olga: its promo code bonus"
    with translation.override("ru"):
        assert description_display(stored) == (
            "Возврат звёзд Telegram по операции #9, оформил admin:olga: бонус по промокоду")


def test_free_text_is_shown_as_typed():
    with translation.override("ru"):
        for text in ("compensation for a failed generation", "Компенсация", "", "Promo code"):
            assert description_display(text) == text


@pytest.mark.django_db
def test_entries_written_before_the_templates_existed_are_translated_as_well(make_user):
    # The texts the services wrote before: the same English, now matched by the templates.
    user = make_user()
    entry = services.balance_credit(user=user, amount=5, description="Telegram Stars: Старт")
    charge = services.balance_debit(user=user, amount=5, description="Image generation ×2")
    reversal = services.balance_refund(entry=charge)
    with translation.override("ru"):
        assert description_display(entry.description) == "Звёзды Telegram: Старт"
        assert description_display(reversal.description) == f"Сторно операции #{charge.pk}"


@pytest.mark.django_db
def test_the_services_store_the_english_text(make_user):
    user = make_user()
    promo_services.promo_code_create(code="TEN", type="balance", balance_amount=Decimal("10"))
    with translation.override("ru"):
        activation = promo_services.promo_code_activate(user=user, code="TEN")
        reversal = services.balance_refund(entry=services.balance_debit(user=user, amount=1))
    assert activation.credit.description == "Promo code TEN"
    assert activation.credit.type == TransactionType.PROMO
    assert reversal.description.startswith("Reversal of entry #")
