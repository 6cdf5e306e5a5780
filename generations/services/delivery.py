"""Telling the user how a job ended, once: the training notice, a generation's album or failure notice.

The texts and the Bot API calls are ``generations.notify``; here are the claims that make each message go out
once. A generation's ``delivered_at`` is set only when Telegram accepted the album (or the notice).
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.utils import timezone

from generations import notify
from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration
from generations.services.generation import generator_model

logger = logging.getLogger(__name__)


def avatar_training_notify(*, avatar_id) -> bool:
    """Tell the user how the training ended, once (``notified_at`` is claimed before sending)."""
    avatar = Avatar.objects.select_related("user").filter(pk=avatar_id).first()
    if avatar is None or avatar.status not in (AvatarStatus.COMPLETED, AvatarStatus.ERROR):
        return False
    if not Avatar.objects.filter(pk=avatar.pk, notified_at__isnull=True).update(notified_at=timezone.now()):
        return False
    try:
        notify.training_notice_send(
            chat_id=avatar.user.telegram_id, language_code=avatar.user.language_code, name=avatar.name,
            ready=avatar.status == AvatarStatus.COMPLETED, failure_reason=avatar.failure_reason,
        )
    except notify.DeliveryFailed as exc:
        if not exc.permanent:
            Avatar.objects.filter(pk=avatar.pk).update(notified_at=None)  # the sweep will try again
        logger.warning("training notice for avatar %s not delivered: %s", avatar.pk, exc)
        return False
    return True


def generation_deliver(*, generation_id) -> bool:
    """Send the album (or the failure notice) once: the delivery is claimed before sending, released when Telegram
    could not take it and a retry may help; ``delivered_at`` is set only when Telegram accepted it."""
    generation = ImageGeneration.objects.select_related("user").filter(
        pk=generation_id, status__in=(GenerationStatus.COMPLETED, GenerationStatus.FAILED)).first()
    if generation is None:
        return False
    if not ImageGeneration.objects.filter(pk=generation.pk, delivery_claimed_at__isnull=True,
                                          delivered_at__isnull=True).update(delivery_claimed_at=timezone.now()):
        return False
    user = generation.user
    try:
        if generation.status == GenerationStatus.COMPLETED:
            notify.generation_album_send(chat_id=user.telegram_id, language_code=user.language_code,
                                         images=_stored_images(generation), label=_label(generation))
        else:
            notify.generation_failure_send(chat_id=user.telegram_id, language_code=user.language_code,
                                           failure_reason=generation.failure_reason)
    except notify.DeliveryFailed as exc:
        if not exc.permanent:
            ImageGeneration.objects.filter(pk=generation.pk).update(delivery_claimed_at=None)
        logger.warning("generation %s not delivered: %s", generation.pk, exc)
        return False
    ImageGeneration.objects.filter(pk=generation.pk).update(delivered_at=timezone.now())
    return True


def _label(generation: ImageGeneration) -> str:
    model = generator_model(generation)
    return "" if model.needs_avatar else model.label


def _stored_images(generation: ImageGeneration) -> list[tuple[str, bytes]]:
    images = []
    for name in generation.result_files or []:
        with default_storage.open(name, "rb") as handle:
            images.append((name.rsplit("/", 1)[-1], handle.read()))
    return images
