"""A pending discount code, end to end in the bot: the generation screens show the discounted price, the generation
is charged it, and the next one costs the full price again."""

from decimal import Decimal

import pytest

from billing.selectors import balance_get
from botworker.callbacks import GenCb, Menu, MenuSection
from generations.models import ImageGeneration
from promocodes.models import PromokodeType, PromokodeUsage
from promocodes.services import promo_code_activate, promo_code_create
from tests.generations.test_bot_generation import to, user_with_avatar
from tests.support import updates

pytestmark = pytest.mark.django_db(transaction=True)


async def _count_screen(bot, uid, nth):
    """Go from the generation screen to the image-count screen for the ``nth`` time; returns that screen."""
    bot.feed(updates.callback(uid, GenCb(action="prompt").pack()))
    await bot.wait_for("sendMessage", to(uid, "Опишите"), count=nth)
    bot.feed(updates.message(uid, "в костюме на крыше небоскрёба"))
    await bot.wait_for("sendMessage", to(uid, "формат"), count=nth)
    bot.feed(updates.callback(uid, GenCb(action="ratio", value="1x1").pack()))
    found = await bot.wait_for("sendMessage", to(uid, "Сколько"), count=nth)
    return found[-1] if nth > 1 else found


async def test_the_bot_shows_and_charges_the_discounted_price_of_the_next_generation_only(
        bot, fake_fal, ready_avatar):
    uid = 6251
    user, _avatar = await user_with_avatar(bot, ready_avatar, uid)
    await bot.orm(promo_code_create, code="GEN20", type=PromokodeType.DISCOUNT, discount_percent=Decimal("20"))
    await bot.orm(promo_code_activate, user=user, code="GEN20")

    bot.feed(updates.callback(uid, Menu(section=MenuSection.GENERATE).pack()))
    start = await bot.wait_for("sendMessage", to(uid, "Создание фото"))
    assert "Цена: 5 монет за изображение" in start.text
    assert "Цена со скидкой 20%: 4 монет за изображение" in start.text
    counts = await _count_screen(bot, uid, 1)
    assert "Цена со скидкой 20%" in counts.text
    assert [b["text"] for b in counts.buttons()] == ["1 (4 🪙)", "2 (8 🪙)", "3 (12 🪙)", "4 (16 🪙)"]
    bot.feed(updates.callback(uid, GenCb(action="count", value="3").pack()))
    created = await bot.wait_for("sendMessage", to(uid, "Создаю"))
    assert "списано 12 монет" in created.text
    assert await bot.orm(balance_get, user=user) == Decimal("88")
    usage = await bot.orm(PromokodeUsage.objects.get, user=user)
    assert usage.consumed_at is not None
    assert len(fake_fal.submitted()) == 1

    # The discount is used: the next generation is shown and charged the full price.
    bot.feed(updates.callback(uid, Menu(section=MenuSection.GENERATE).pack()))
    start = (await bot.wait_for("sendMessage", to(uid, "Создание фото"), count=2))[-1]
    assert "скидк" not in start.text
    counts = await _count_screen(bot, uid, 2)
    assert "скидк" not in counts.text and counts.buttons()[0]["text"] == "1 (5 🪙)"
    bot.feed(updates.callback(uid, GenCb(action="count", value="1").pack()))
    created = (await bot.wait_for("sendMessage", to(uid, "Создаю"), count=2))[-1]
    assert "списано 5 монет" in created.text
    assert await bot.orm(balance_get, user=user) == Decimal("83")
    assert await bot.orm(ImageGeneration.objects.filter(user=user).count) == 2
