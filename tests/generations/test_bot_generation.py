"""Generation end to end: charge before submission, the album delivered once, refunds once, a restart."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from billing.models import Transaction, TransactionType
from billing.selectors import balance_get
from billing.services import balance_credit
from botworker.callbacks import GalleryCb, GenCb, Menu, MenuSection
from botworker.dispatcher import create_bot, create_dispatcher
from generations import services, tasks
from generations.models import GenerationStatus, ImageGeneration
from tests.botworker.conftest import start_poller
from tests.support import updates
from tests.support.botapi import TOKEN

pytestmark = pytest.mark.django_db(transaction=True)


def to(chat_id, text=None):
    return lambda c: str(c.data.get("chat_id")) == str(chat_id) and (text is None or text in c.text)


async def user_with_avatar(bot, ready_avatar, uid, coins="100"):
    bot.feed(updates.message(uid, "/start"))
    await bot.wait_for("sendMessage", to(uid))
    user = await bot.orm(User.objects.get, telegram_id=uid)
    await bot.orm(balance_credit, user=user, amount=coins, created_by="test")
    avatar = await bot.orm(ready_avatar, user)
    return user, avatar


async def poll_generation(bot, generation_id, limit=10):
    for _ in range(limit):
        await bot.orm(services.generation_poll, generation_id=generation_id)
        generation = await bot.orm(ImageGeneration.objects.get, pk=generation_id)
        if generation.status not in services.IN_FLIGHT:
            return generation
    return generation


async def test_a_style_generation_is_charged_submitted_and_delivered_as_one_album_once(
        bot, fake_fal, ready_avatar, style_catalogue):
    uid = 6201
    user, avatar = await user_with_avatar(bot, ready_avatar, uid)
    bot.feed(updates.callback(uid, Menu(section=MenuSection.GENERATE).pack()))
    start = await bot.wait_for("sendMessage", to(uid, "Создание фото"))
    assert avatar.name in start.text
    for action, value, expect in (("categories", "", "категорию"), ("category", "business", "тему"),
                                  ("subcategory", "office", "образ"), ("template", "office_ceo", "формат")):
        bot.feed(updates.callback(uid, GenCb(action=action, value=value).pack()))
        await bot.wait_for("sendMessage", to(uid, expect))
    bot.feed(updates.callback(uid, GenCb(action="ratio", value="3x4").pack()))
    await bot.wait_for("sendMessage", to(uid, "Сколько"))
    bot.feed(updates.callback(uid, GenCb(action="count", value="2").pack()))
    await bot.wait_for("sendMessage", to(uid, "Создаю"))
    assert await bot.orm(balance_get, user=user) == Decimal("90")

    job = fake_fal.submitted("fal-ai/flux-lora")[0]
    assert job.arguments["image_size"] == "portrait_4_3" and job.arguments["num_images"] == 2
    assert job.arguments["loras"] == [{"path": avatar.diffusers_lora_file_url, "scale": 1.15}]
    assert avatar.trigger_phrase in job.arguments["prompt"] and "TOK " not in job.arguments["prompt"]

    generation = await poll_generation(bot, (await bot.orm(ImageGeneration.objects.get, user=user)).pk)
    assert generation.status == GenerationStatus.COMPLETED and len(generation.result_files) == 2
    album = await bot.wait_for("sendMediaGroup", to(uid))
    assert len(album.json("media")) == 2 and len(album.files) == 2
    # A late webhook and another poll deliver nothing more.
    await bot.orm(services.provider_webhook_handle, body=fake_fal.webhook_body(job.request_id))
    await bot.orm(services.generation_poll, generation_id=generation.pk)
    await bot.orm(services.generation_deliver, generation_id=generation.pk)
    assert len(bot.api.calls_of("sendMediaGroup")) == 1

    # The gallery shows it; "again" charges exactly once more.
    bot.feed(updates.callback(uid, Menu(section=MenuSection.GALLERY).pack()))
    card = await bot.wait_for("sendPhoto", to(uid, "Изображение 1 из 1"))
    assert GalleryCb(action="again", index=0, item=generation.pk.hex).pack() in card.callback_datas()
    bot.feed(updates.callback(uid, GalleryCb(action="again", index=0, item=generation.pk.hex).pack()))
    await bot.wait_for("sendMessage", to(uid, "Создаю"), count=2)
    assert await bot.orm(balance_get, user=user) == Decimal("80")


async def test_a_failed_generation_is_refunded_once_and_the_user_is_told(bot, fake_fal, ready_avatar):
    uid = 6202
    user, avatar = await user_with_avatar(bot, ready_avatar, uid)
    fake_fal.script(outcome="error")
    bot.feed(updates.callback(uid, GenCb(action="prompt").pack()))
    await bot.wait_for("sendMessage", to(uid, "Опишите"))
    bot.feed(updates.message(uid, "в костюме на крыше небоскрёба"))
    await bot.wait_for("sendMessage", to(uid, "формат"))
    bot.feed(updates.callback(uid, GenCb(action="ratio", value="16x9").pack()))
    await bot.wait_for("sendMessage", to(uid, "Сколько"))
    bot.feed(updates.callback(uid, GenCb(action="count", value="1").pack()))
    await bot.wait_for("sendMessage", to(uid, "Создаю"))
    assert await bot.orm(balance_get, user=user) == Decimal("95")
    generation = await bot.orm(ImageGeneration.objects.get, user=user)
    assert fake_fal.jobs[generation.provider_request_id].arguments["image_size"] == "landscape_16_9"
    generation = await poll_generation(bot, generation.pk)
    assert generation.status == GenerationStatus.FAILED
    assert "восстановлен" in (await bot.wait_for("sendMessage", to(uid, "Не удалось создать"))).text
    await bot.orm(services.generation_refund, generation=generation, created_by="admin")
    assert await bot.orm(balance_get, user=user) == Decimal("100")
    assert await bot.orm(Transaction.objects.filter(user=user, type=TransactionType.REFUND).count) == 1

    # An operator's retry resubmits it, charging once for the new attempt.
    fake_fal.script(outcome="ok")
    await bot.orm(services.generation_retry, generation=generation)
    assert await bot.orm(balance_get, user=user) == Decimal("95")
    generation = await poll_generation(bot, generation.pk)
    assert generation.status == GenerationStatus.COMPLETED
    await bot.wait_for("sendPhoto", to(uid, "готовы"))


async def test_a_generation_that_never_finishes_is_cancelled_and_refunded(bot, fake_fal, ready_avatar, settings):
    uid = 6203
    user, avatar = await user_with_avatar(bot, ready_avatar, uid)
    fake_fal.script(outcome="hang")
    generation = await bot.orm(services.generation_create, user=user, avatar_id=avatar.pk, aspect_ratio="1:1",
                               num_images=1, prompt="на пляже на закате")
    await bot.orm(ImageGeneration.objects.filter(pk=generation.pk).update, deadline=timezone.now())
    generation = await poll_generation(bot, generation.pk)
    assert generation.status == GenerationStatus.FAILED and generation.error_message == "timeout"
    assert fake_fal.jobs[generation.provider_request_id].cancelled
    assert await bot.orm(balance_get, user=user) == Decimal("100")


def run_worker():
    """The real db_worker loop in batch mode: runs every ready task, then returns (on its own connection)."""
    from django.db import connections
    from django_tasks_db.management.commands.db_worker import Worker

    try:
        Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
               max_tasks=None, worker_id="test-worker", excluded_queue_names=[]).run()
    finally:
        connections.close_all()


def enqueue_sweep():
    from django.db import connections

    try:
        tasks.sweep_stuck_jobs.enqueue()
    finally:
        connections.close_all()


async def test_a_restart_in_the_middle_of_a_generation_completes_it_once_and_delivers_once(
        bot, fake_fal, ready_avatar, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    settings.FAL_POLL_INTERVAL = 60  # the next poll is deferred: the chain is in the queue, not yet run
    uid = 6204
    user, avatar = await user_with_avatar(bot, ready_avatar, uid)
    bot.feed(updates.callback(uid, GenCb(action="prompt").pack()))
    await bot.wait_for("sendMessage", to(uid, "Опишите"))
    bot.feed(updates.message(uid, "в горах зимой"))
    await bot.wait_for("sendMessage", to(uid, "формат"))
    bot.feed(updates.callback(uid, GenCb(action="ratio", value="1x1").pack()))
    await bot.wait_for("sendMessage", to(uid, "Сколько"))
    bot.feed(updates.callback(uid, GenCb(action="count", value="2").pack()))
    await bot.wait_for("sendMessage", to(uid, "Создаю"))
    await asyncio.to_thread(run_worker)  # runs the submit; the first poll waits for its run_after
    generation = await bot.orm(ImageGeneration.objects.get, user=user)
    assert generation.status == GenerationStatus.PROCESSING and generation.provider_request_id

    # Everything stops: the bot, and the worker with its deferred poll lost (the worst case).
    bot.poller.stop()
    await bot.task
    from django_tasks_db.models import DBTaskResult

    await bot.orm(DBTaskResult.objects.all().delete)
    await bot.orm(ImageGeneration.objects.filter(pk=generation.pk).update,
                  last_status_check=timezone.now() - timedelta(hours=1))

    # A new bot and worker start; the periodic sweep resumes the job from its stored request id.
    new_bot = create_bot(TOKEN, api_url=bot.api.base_url)
    new_poller, polling = start_poller(new_bot, create_dispatcher())
    settings.FAL_POLL_INTERVAL = 0
    try:
        await asyncio.to_thread(enqueue_sweep)
        await asyncio.to_thread(run_worker)
        await asyncio.to_thread(enqueue_sweep)
        await asyncio.to_thread(run_worker)
        generation = await bot.orm(ImageGeneration.objects.get, pk=generation.pk)
        assert generation.status == GenerationStatus.COMPLETED and generation.delivered_at
        album = await bot.wait_for("sendMediaGroup", to(uid))
        assert len(album.json("media")) == 2
        await bot.orm(services.provider_webhook_handle, body=fake_fal.webhook_body(generation.provider_request_id))
        bot.feed(updates.callback(uid, Menu(section=MenuSection.GALLERY).pack()))
        await bot.wait_for("sendPhoto", to(uid, "Изображение 1 из 1"))
    finally:
        new_poller.stop()
        await polling
        await new_bot.session.close()
    assert len(bot.api.calls_of("sendMediaGroup")) == 1
    assert len(fake_fal.submitted()) == 1
    assert await bot.orm(balance_get, user=user) == Decimal("90")


async def test_gallery_favourite_and_delete_are_owner_checked(bot, fake_fal, ready_avatar):
    uid, stranger = 6205, 6206
    user, avatar = await user_with_avatar(bot, ready_avatar, uid)
    bot.feed(updates.message(stranger, "/start"))
    await bot.wait_for("sendMessage", to(stranger))
    generation = await bot.orm(services.generation_create, user=user, avatar_id=avatar.pk, aspect_ratio="1:1",
                               num_images=1, prompt="в парке осенью")
    generation = await poll_generation(bot, generation.pk)
    item = generation.pk.hex
    bot.feed(updates.callback(stranger, GalleryCb(action="delete_ok", index=0, item=item).pack()))
    await bot.wait_for("answerCallbackQuery", lambda c: "не найдено" in (c.data.get("text") or ""))
    bot.feed(updates.callback(uid, GalleryCb(action="favorite", index=0, item=item).pack()))
    await bot.wait_for("answerCallbackQuery", lambda c: "избранное" in (c.data.get("text") or ""))
    assert (await bot.orm(ImageGeneration.objects.get, pk=generation.pk)).is_favorite
    bot.feed(updates.callback(uid, GalleryCb(action="delete_ok", index=0, item=item).pack()))
    await bot.wait_for("sendMessage", to(uid, "пока пусто"))
    assert not (await bot.orm(ImageGeneration.objects.get, pk=generation.pk)).is_saved
