"""A double tap on the image-count button (two updates handled at once) creates and charges one generation."""

from decimal import Decimal

import pytest

from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from botworker.callbacks import GalleryCb, GenCb, Menu, MenuSection
from generations import services
from generations.models import ImageGeneration
from tests.generations.test_bot_generation import to, user_with_avatar
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)


async def test_two_taps_on_the_count_button_at_once_charge_once(bot, fake_fal, ready_avatar):
    uid = 6301
    user, avatar = await user_with_avatar(bot, ready_avatar, uid)
    bot.feed(updates.callback(uid, GenCb(action="prompt").pack()))
    await bot.wait_for("sendMessage", to(uid, "Опишите"))
    bot.feed(updates.message(uid, "в костюме на крыше небоскрёба"))
    await bot.wait_for("sendMessage", to(uid, "формат"))
    bot.feed(updates.callback(uid, GenCb(action="ratio", value="1x1").pack()))
    await bot.wait_for("sendMessage", to(uid, "Сколько"))
    tap = GenCb(action="count", value="2").pack()
    bot.feed(updates.callback(uid, tap), updates.callback(uid, tap))  # one getUpdates batch: handled as tasks
    await bot.idle()
    await bot.wait_for("answerCallbackQuery", count=4)
    assert await bot.orm(ImageGeneration.objects.filter(user=user).count) == 1
    assert await bot.orm(Transaction.objects.filter(user=user, type=TransactionType.CHARGE).count) == 1
    assert await bot.orm(balance_get, user=user) == Decimal("90")
    assert len(fake_fal.submitted()) == 1


def test_the_same_request_token_returns_the_first_generation_uncharged(funded_user, ready_avatar, fake_fal):
    user = funded_user("100")
    avatar = ready_avatar(user)
    request = dict(user=user, avatar_id=avatar.pk, aspect_ratio="1:1", num_images=1, prompt="в горах зимой",
                   request_token="a" * 32)
    first = services.generation_create(**request)
    again = services.generation_create(**request)
    assert again.pk == first.pk and ImageGeneration.objects.count() == 1
    assert Transaction.objects.filter(user=user, type=TransactionType.CHARGE).count() == 1
    other = services.generation_create(**{**request, "request_token": "b" * 32})
    assert other.pk != first.pk and balance_get(user=user) == Decimal("90")


@pytest.mark.postgres
def test_the_same_request_from_several_processes_at_once_charges_once(funded_user, ready_avatar, fake_fal):
    """Webhook mode with several processes: the taps pass the first check together; the unique token decides."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    user = funded_user("100")
    avatar = ready_avatar(user)

    def tap(_):
        try:
            return services.generation_create(user=user, avatar_id=avatar.pk, aspect_ratio="1:1", num_images=1,
                                              prompt="в горах зимой", request_token="c" * 32).pk
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = set(pool.map(tap, range(4)))
    assert len(ids) == 1 and ImageGeneration.objects.count() == 1
    assert Transaction.objects.filter(user=user, type=TransactionType.CHARGE).count() == 1


async def _gallery_card(bot, ready_avatar, uid):
    """A user with 100 coins and one completed image; returns the user, the image and its gallery card."""
    user, avatar = await user_with_avatar(bot, ready_avatar, uid)
    done = await bot.orm(ImageGeneration.objects.create, user=user, avatar=avatar, original_prompt="в горах зимой",
                         final_prompt="x", aspect_ratio="1:1", num_images=1, status="completed")
    bot.feed(updates.callback(uid, Menu(section=MenuSection.GALLERY).pack()))
    card = await bot.wait_for("sendMessage", lambda c: to(uid, "Изображение 1 из 1")(c) and c.result is not None)
    return user, done, card


def _again(uid, done, card) -> dict:
    """A tap of the card's "again" button, as Telegram sends it: with the card's message."""
    data = GalleryCb(action="again", index=0, item=done.pk.hex).pack()
    assert data in card.callback_datas()
    return updates.callback(uid, data, message_id=card.result_message_id)


async def test_two_taps_on_the_gallerys_again_button_at_once_charge_once(bot, fake_fal, ready_avatar):
    uid = 6302
    user, done, card = await _gallery_card(bot, ready_avatar, uid)
    bot.feed(_again(uid, done, card), _again(uid, done, card))  # one getUpdates batch: handled as tasks
    await bot.idle()
    assert await bot.orm(ImageGeneration.objects.filter(user=user).count) == 2  # the image and one new one
    assert await bot.orm(Transaction.objects.filter(user=user, type=TransactionType.CHARGE).count) == 1
    assert await bot.orm(balance_get, user=user) == Decimal("95")
    assert len(fake_fal.submitted()) == 1


async def test_a_later_tap_of_the_same_again_button_charges_nothing_and_says_so(bot, fake_fal, ready_avatar):
    uid = 6303
    user, done, card = await _gallery_card(bot, ready_avatar, uid)
    bot.feed(_again(uid, done, card))
    await bot.wait_for("sendMessage", to(uid, "Создаю"))
    bot.feed(_again(uid, done, card))
    answer = await bot.wait_for("answerCallbackQuery", lambda c: "уже принят" in (c.data.get("text") or ""))
    assert answer.data.get("show_alert") in (True, "true", "True")
    assert await bot.orm(balance_get, user=user) == Decimal("95")
    # The gallery drawn again is a new card: its button is a new request.
    bot.feed(updates.callback(uid, Menu(section=MenuSection.GALLERY).pack()))
    newer = (await bot.wait_for("sendMessage", lambda c: to(uid, "Изображение 1 из 1")(c) and c.result is not None,
                                count=2))[-1]
    bot.feed(_again(uid, done, newer))
    await bot.wait_for("sendMessage", to(uid, "Создаю"), count=2)
    assert await bot.orm(balance_get, user=user) == Decimal("90")
