"""Writes of avatars, their photos, training and image generation.

Money: a job is charged once per attempt (``balance_debit`` with an idempotency key naming the attempt) before it
is submitted, and refunded at most once (``balance_refund`` is at-most-once per charge) when it fails.
Provider jobs: the request id is stored at submit; completion and failure are conditional UPDATEs keyed by the
row's status, so a poller and a webhook racing each other (or a restarted worker) complete a job once.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import io
import json
import logging
import uuid
import zipfile
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.languages import language_for
from billing import ledger_texts
from billing import services as billing_services
from billing.exceptions import ChargeMismatch
from billing.ledger_texts import describe
from billing.models import TransactionType
from generations import fal, fal_signature, notify, photos
from generations.exceptions import (
    InvalidInput, InvalidState, NotEnoughPhotos, NotFound, PhotoLimitReached, PhotoRejected, ProviderError,
)
from generations.models import (
    Avatar, AvatarGender, AvatarPhoto, AvatarStatus, AvatarTrainingType, GenerationStatus, ImageGeneration,
    PhotoValidationStatus, StyleTemplate,
)
from generations.names import visible_name
from promocodes import services as promo_services

logger = logging.getLogger(__name__)

NAME_MIN, NAME_MAX = 2, 50
PROMPT_MIN, PROMPT_MAX = 5, 1000
ASPECT_RATIOS = tuple(fal.IMAGE_SIZES)
EDITABLE_STATUSES = (AvatarStatus.DRAFT, AvatarStatus.PHOTOS_UPLOADING, AvatarStatus.READY_FOR_TRAINING)
IN_FLIGHT = (GenerationStatus.PENDING, GenerationStatus.PROCESSING)
# A new avatar is male or female (as the wizard offers); "other" exists only on adopted legacy rows.
NEW_AVATAR_GENDERS = (AvatarGender.MALE, AvatarGender.FEMALE)


def _tasks():
    from generations import tasks  # the two modules refer to each other

    return tasks


def _on_commit(task_name: str, *args) -> None:
    transaction.on_commit(lambda: getattr(_tasks(), task_name).enqueue(*args))


# --- avatars ----------------------------------------------------------------------------------------------------
def _owned_avatar(*, user, avatar_id, lock: bool = False) -> Avatar:
    queryset = Avatar.objects.select_for_update() if lock else Avatar.objects
    avatar = queryset.filter(pk=avatar_id, user_id=getattr(user, "pk", user)).first() if _is_uuid(avatar_id) else None
    if avatar is None:
        raise NotFound("avatar")
    return avatar


def _is_uuid(value) -> bool:
    """Ids come from callback data: anything that is not a UUID names no object (and must not reach SQL)."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _clean_name(name: str, *, maximum: int = NAME_MAX) -> str:
    name = visible_name(name)  # invisible characters do not count towards the length (or get saved)
    if not NAME_MIN <= len(name) <= maximum:
        raise InvalidInput("name")
    return name


def avatar_name_clean(*, name: str) -> str:
    """The avatar name as it will be saved; ``InvalidInput`` unless it has 2-50 visible characters. No database:
    the wizard checks the name with it before asking for the rest."""
    return _clean_name(name)


def avatar_create(*, user, name: str, gender: str, training_type: str = AvatarTrainingType.PORTRAIT) -> Avatar:
    """A new draft avatar (the wizard's first save)."""
    if gender not in NEW_AVATAR_GENDERS or training_type not in AvatarTrainingType.values:
        raise InvalidInput("gender or training type")
    avatar = Avatar(user=user, name=_clean_name(name), gender=gender, training_type=training_type,
                    status=AvatarStatus.DRAFT)
    avatar.trigger_phrase = _neutral_trigger(avatar)
    avatar.trigger_word = avatar.trigger_phrase
    avatar.save()
    return avatar


def _neutral_trigger(avatar: Avatar) -> str:
    """The word a LoRA learns the person by: the same for every gender (no "man"/"woman" in it or in captions)."""
    return f"TOK_{avatar.pk.hex[:8]}"


def avatar_rename(*, user, avatar_id, name: str) -> Avatar:
    avatar = _owned_avatar(user=user, avatar_id=avatar_id)
    avatar.name = _clean_name(name)
    avatar.updated_at = timezone.now()
    avatar.save(update_fields=["name", "updated_at"])
    return avatar


@transaction.atomic
def avatar_set_main(*, user, avatar_id) -> Avatar:
    """Make a completed avatar the user's main one (the only one: a partial unique constraint backs it)."""
    avatar = _owned_avatar(user=user, avatar_id=avatar_id, lock=True)
    if avatar.status != AvatarStatus.COMPLETED:
        raise InvalidState("only a ready avatar can be main")
    Avatar.objects.filter(user_id=avatar.user_id, is_main=True).exclude(pk=avatar.pk).update(is_main=False)
    Avatar.objects.filter(pk=avatar.pk).update(is_main=True)
    avatar.is_main = True
    return avatar


def avatar_delete(*, user, avatar_id) -> None:
    """Delete an avatar and its photos; its generated images stay in the gallery. Not while it trains."""
    with transaction.atomic():
        avatar = _owned_avatar(user=user, avatar_id=avatar_id, lock=True)
        if avatar.status == AvatarStatus.TRAINING:
            raise InvalidState("training in progress")
        names = [p.file.name for p in avatar.photos.all() if p.file]
        avatar.delete()
        _make_main_if_none(avatar.user_id)
    for name in names:
        default_storage.delete(name)


def avatar_photo_add(*, user, avatar_id, content: bytes) -> tuple[AvatarPhoto, int]:
    """Validate and keep one photo; returns it and the avatar's photo count. Raises ``PhotoRejected``.

    Photos of one album arrive at once: the avatar row lock serialises them, and the unique (avatar, hash)
    constraint on valid photos stops a duplicate that slips past the check.
    """
    checked = photos.photo_check(content=content)  # outside the transaction: decoding takes a while
    name = default_storage.save(f"avatar-photos/{avatar_id}/{checked.file_hash}.{checked.format}",
                                ContentFile(checked.content))
    try:
        with transaction.atomic():
            avatar = _owned_avatar(user=user, avatar_id=avatar_id, lock=True)
            if avatar.status not in EDITABLE_STATUSES:
                raise InvalidState("photos can no longer be changed")
            valid = avatar.photos.filter(validation_status=PhotoValidationStatus.VALID)
            count = valid.count()
            if count >= settings.AVATAR_MAX_PHOTOS:
                raise PhotoLimitReached(limit=settings.AVATAR_MAX_PHOTOS)
            if valid.filter(file_hash=checked.file_hash).exists():
                raise PhotoRejected("duplicate")
            try:
                with transaction.atomic():
                    photo = AvatarPhoto.objects.create(
                        avatar=avatar, user_id=avatar.user_id, file=name, minio_key=name,
                        file_hash=checked.file_hash, upload_order=count + 1,
                        validation_status=PhotoValidationStatus.VALID, file_size=checked.size,
                        width=checked.width, height=checked.height, format=checked.format,
                        validated_at=timezone.now(),
                    )
            except IntegrityError:
                raise PhotoRejected("duplicate") from None
            count = _refresh_photo_status(avatar)
    except Exception:
        if not AvatarPhoto.objects.filter(file=name).exists():
            default_storage.delete(name)
        raise
    return photo, count


def avatar_photo_delete(*, user, avatar_id, photo_id) -> int:
    """Remove one uploaded photo (before training); returns the new count."""
    with transaction.atomic():
        avatar = _owned_avatar(user=user, avatar_id=avatar_id, lock=True)
        if avatar.status not in EDITABLE_STATUSES:
            raise InvalidState("photos can no longer be changed")
        photo = avatar.photos.filter(pk=photo_id).first() if _is_uuid(photo_id) else None
        if photo is None:
            raise NotFound("photo")
        name = photo.file.name if photo.file else None
        photo.delete()
        count = _refresh_photo_status(avatar)
    if name and not AvatarPhoto.objects.filter(file=name).exists():
        default_storage.delete(name)
    return count


def _refresh_photo_status(avatar: Avatar) -> int:
    count = avatar.photos.filter(validation_status=PhotoValidationStatus.VALID).count()
    if count >= settings.AVATAR_MIN_PHOTOS:
        status = AvatarStatus.READY_FOR_TRAINING
    else:
        status = AvatarStatus.PHOTOS_UPLOADING if count else AvatarStatus.DRAFT
    Avatar.objects.filter(pk=avatar.pk).update(photos_count=count, status=status, updated_at=timezone.now())
    avatar.photos_count, avatar.status = count, status
    return count


def avatar_training_start(*, user, avatar_id) -> Avatar:
    """Charge the training price and queue the submission. A double click charges once: the status moves
    ready_for_training -> training under the row lock, and the charge key names the attempt."""
    with transaction.atomic():
        avatar = _owned_avatar(user=user, avatar_id=avatar_id, lock=True)
        fal.provider_get()  # refuses (no key in production) before any money moves
        count = avatar.photos.filter(validation_status=PhotoValidationStatus.VALID).count()
        if avatar.status not in (AvatarStatus.READY_FOR_TRAINING, AvatarStatus.PHOTOS_UPLOADING,
                                 AvatarStatus.DRAFT, AvatarStatus.ERROR):
            raise InvalidState("avatar is not ready for training")
        if count < settings.AVATAR_MIN_PHOTOS:
            raise NotEnoughPhotos(have=count, need=settings.AVATAR_MIN_PHOTOS)
        attempt = avatar.training_attempt + 1
        charge = billing_services.balance_debit(
            user=avatar.user_id, amount=settings.AVATAR_CREATION_COST, type=TransactionType.CHARGE,
            description=describe(ledger_texts.AVATAR_TRAINING, name=avatar.name),
            idempotency_key=f"avatar-training:{avatar.pk}:{attempt}",
            created_by="bot", extra_data={"avatar_id": str(avatar.pk), "attempt": attempt},
        )
        now = timezone.now()
        endpoint = fal.STYLE_TRAINER if avatar.training_type == AvatarTrainingType.STYLE else fal.PORTRAIT_TRAINER
        Avatar.objects.filter(pk=avatar.pk).update(
            status=AvatarStatus.TRAINING, training_attempt=attempt, charge=charge, training_endpoint=endpoint,
            fal_request_id=None, training_progress=0, training_error=None, training_started_at=now,
            training_deadline=now + timedelta(seconds=settings.FAL_TRAINING_TIMEOUT), last_status_check=now,
            notified_at=None, steps=settings.FAL_TRAINING_STEPS, learning_rate=settings.FAL_TRAINING_LEARNING_RATE,
            # An adopted legacy avatar may have none: it is trained with the neutral one (and generates with it).
            trigger_phrase=avatar.trigger_phrase or _neutral_trigger(avatar), updated_at=now,
        )
        _on_commit("submit_avatar_training", str(avatar.pk))
    avatar.refresh_from_db()
    return avatar


def _training_arguments(avatar: Avatar, images_url: str) -> dict:
    if avatar.training_endpoint == fal.STYLE_TRAINER:
        # A style avatar learns the look as a whole: no captions or face masks (is_style drops them).
        return {"images_data_url": images_url, "trigger_word": avatar.trigger_phrase, "steps": avatar.steps,
                "create_masks": False, "is_style": True}
    return {"images_data_url": images_url, "trigger_phrase": avatar.trigger_phrase, "steps": avatar.steps,
            "learning_rate": avatar.learning_rate, "multiresolution_training": True, "subject_crop": True}


def _photos_zip(avatar: Avatar) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, photo in enumerate(avatar.photos.filter(validation_status=PhotoValidationStatus.VALID), 1):
            with default_storage.open(photo.file.name, "rb") as handle:
                archive.writestr(f"{number:02d}.{photo.format or 'jpg'}", handle.read())
    return out.getvalue()


def avatar_training_submit(*, avatar_id) -> Avatar | None:
    """Upload the photos and submit the training (a task). No-op unless the avatar awaits submission."""
    # Only a charged training is sent to FAL: a legacy row caught "training" was never paid for here.
    avatar = Avatar.objects.filter(pk=avatar_id, status=AvatarStatus.TRAINING, fal_request_id__isnull=True,
                                   charge__isnull=False).first()
    if avatar is None:
        return None
    try:
        provider = fal.provider_get()
        url = provider.upload(_photos_zip(avatar), content_type="application/zip", file_name=f"{avatar.pk}.zip")
        submitted = provider.submit(avatar.training_endpoint, _training_arguments(avatar, url),
                                    webhook_url=webhook_url())
    except ProviderError as exc:
        if exc.retryable and not _expired(avatar.training_deadline):
            _tasks().schedule("submit_avatar_training", settings.FAL_POLL_INTERVAL, str(avatar.pk))
            return avatar
        avatar_training_fail(avatar_id=avatar.pk, reason=str(exc))
        return None
    except Exception as exc:  # e.g. ProviderUnavailable, a missing photo file: the user gets the money back
        logger.exception("training submit of avatar %s failed", avatar.pk)
        avatar_training_fail(avatar_id=avatar.pk, reason=str(exc))
        return None
    updated = Avatar.objects.filter(pk=avatar.pk, status=AvatarStatus.TRAINING, fal_request_id__isnull=True).update(
        fal_request_id=submitted.request_id, last_status_check=timezone.now(),
        training_config=_training_arguments(avatar, url), webhook_url=webhook_url() or None,
    )
    if updated:
        first = 0 if provider.is_dev else settings.FAL_TRAINING_FIRST_POLL
        _tasks().schedule("poll_avatar_training", first, str(avatar.pk))
    return avatar


def avatar_training_poll(*, avatar_id) -> None:
    """One status check of a training (a task); schedules the next one while the job runs."""
    avatar = Avatar.objects.filter(pk=avatar_id, status=AvatarStatus.TRAINING).first()
    if avatar is None:
        return
    if not avatar.fal_request_id:
        avatar_training_submit(avatar_id=avatar.pk)
        return
    provider = fal.provider_get()
    endpoint = avatar.training_endpoint or fal.PORTRAIT_TRAINER  # legacy rows have none
    try:
        status = provider.status(endpoint, avatar.fal_request_id)
        if status.done:
            _training_finish(avatar, lambda: provider.result(endpoint, avatar.fal_request_id))
            return
    except ProviderError as exc:
        if not exc.retryable:
            avatar_training_fail(avatar_id=avatar.pk, reason=str(exc))
            return
        status = None
    if _expired(avatar.training_deadline):
        _cancel_quietly(provider, endpoint, avatar.fal_request_id)
        avatar_training_fail(avatar_id=avatar.pk, reason="timeout")
        return
    progress = _progress(status) if status else avatar.training_progress
    Avatar.objects.filter(pk=avatar.pk, status=AvatarStatus.TRAINING).update(
        last_status_check=timezone.now(), training_progress=progress,
    )
    _tasks().schedule("poll_avatar_training", settings.FAL_TRAINING_POLL_INTERVAL, str(avatar.pk))


def _expired(deadline) -> bool:
    """Jobs this project starts always get a deadline; one without it (a legacy row) counts as expired."""
    return deadline is None or timezone.now() >= deadline


def _cancel_quietly(provider, endpoint: str, request_id: str) -> None:
    """Past the deadline the job is failed and refunded anyway; a cancel that does not get through only
    leaves the provider some wasted work."""
    try:
        provider.cancel(endpoint, request_id)
    except ProviderError as exc:
        logger.warning("cancel of %s %s failed: %s", endpoint, request_id, exc)


def _progress(status: fal.Status) -> int:
    """A rough percentage from the trainer's log lines ("step 10/1000"); 5 while queued."""
    if status.status == fal.IN_QUEUE:
        return 0
    for line in reversed(status.logs):
        digits = [int(part) for part in line.replace("/", " ").split() if part.isdigit()]
        if len(digits) >= 2 and digits[-1] and digits[-2] <= digits[-1]:
            return min(99, 100 * digits[-2] // digits[-1])
    return 5


def _training_finish(avatar: Avatar, get_result) -> None:
    try:
        output = get_result()
    except ProviderError as exc:
        if exc.retryable:
            raise
        avatar_training_fail(avatar_id=avatar.pk, reason=str(exc))
        return
    avatar_training_complete(avatar_id=avatar.pk, request_id=avatar.fal_request_id, output=output)


def avatar_training_complete(*, avatar_id, request_id: str, output) -> bool:
    """Mark a training completed with the model file; False when it was already finished (a late duplicate).
    Output without a model URL is a failure: an avatar is never ready without a real LoRA file."""
    lora = output.get("diffusers_lora_file") if isinstance(output, dict) else None
    lora_url = lora.get("url") if isinstance(lora, dict) else None
    if not isinstance(lora_url, str) or not lora_url:
        return avatar_training_fail(avatar_id=avatar_id, reason="no diffusers_lora_file in the result",
                                    request_id=request_id)
    config = output.get("config_file") if isinstance(output.get("config_file"), dict) else {}
    now = timezone.now()
    with transaction.atomic():
        done = Avatar.objects.filter(pk=avatar_id, status=AvatarStatus.TRAINING, fal_request_id=request_id).update(
            status=AvatarStatus.COMPLETED, diffusers_lora_file_url=lora_url[:500],
            config_file_url=(config.get("url") or "")[:500] or None, fal_response_data=output,
            training_progress=100, training_completed_at=now, last_status_check=now, updated_at=now,
        )
        if not done:
            return False
        _make_main_if_none(Avatar.objects.get(pk=avatar_id).user_id)
        _on_commit("notify_avatar_training", str(avatar_id))
    return True


def _make_main_if_none(user_id) -> None:
    """The user's newest completed avatar becomes main when there is none (first training, main deleted)."""
    if Avatar.objects.filter(user_id=user_id, is_main=True).exists():
        return
    candidate = Avatar.objects.filter(user_id=user_id, status=AvatarStatus.COMPLETED).order_by("-created_at").first()
    if candidate is None:
        return
    try:
        with transaction.atomic():
            Avatar.objects.filter(pk=candidate.pk).update(is_main=True)
    except IntegrityError:
        pass  # another avatar of the user became main at the same moment: one main is all we need


def avatar_training_fail(*, avatar_id, reason: str, request_id: str | None = None) -> bool:
    """Mark a training failed and refund its charge (once); False when it had already finished."""
    with transaction.atomic():
        matching = Avatar.objects.filter(pk=avatar_id, status=AvatarStatus.TRAINING)
        if request_id is not None:
            matching = matching.filter(fal_request_id=request_id)
        done = matching.update(status=AvatarStatus.ERROR, training_error=reason[:2000],
                               last_status_check=timezone.now(), updated_at=timezone.now())
        if not done:
            return False
        avatar = Avatar.objects.get(pk=avatar_id)
        _refund_quietly(avatar_training_refund, avatar=avatar)
        _on_commit("notify_avatar_training", str(avatar.pk))
    logger.warning("training of avatar %s failed: %s", avatar_id, reason)
    return True


def _refund_quietly(refund, **row) -> None:
    """The refund of a job that just failed. A charge that is not the row's own (the row was changed outside the
    services) is not refunded: the job still fails, and the refusal is logged for an operator."""
    try:
        refund(**row, created_by="system")
    except ChargeMismatch as exc:
        [(kind, obj)] = row.items()
        logger.error("%s %s failed, its charge not refunded: %s", kind, obj.pk, exc)


def avatar_training_refund(*, avatar: Avatar, created_by: str):
    """Refund the training charge of a failed avatar; at most once per charge. Returns the refund entry or None.

    Only the avatar's own charge: the entry must name this avatar and belong to its user (``ChargeMismatch``),
    checked with the avatar row locked, so a row pointed at another charge cannot move anyone's money.
    """
    with transaction.atomic():
        avatar = Avatar.objects.select_for_update().get(pk=avatar.pk)
        if avatar.status not in (AvatarStatus.ERROR, AvatarStatus.CANCELLED):
            raise InvalidState("only a failed training is refunded")
        if avatar.charge_id is None:
            return None
        return billing_services.balance_refund(
            entry=avatar.charge_id, description=describe(ledger_texts.AVATAR_TRAINING_REFUND, name=avatar.name),
            created_by=created_by, user=avatar.user_id, charged_for={"avatar_id": str(avatar.pk)},
        )


def avatar_training_notify(*, avatar_id) -> bool:
    """Tell the user how the training ended, once (``notified_at`` is claimed before sending)."""
    avatar = Avatar.objects.select_related("user").filter(pk=avatar_id).first()
    if avatar is None or avatar.status not in (AvatarStatus.COMPLETED, AvatarStatus.ERROR):
        return False
    if not Avatar.objects.filter(pk=avatar.pk, notified_at__isnull=True).update(notified_at=timezone.now()):
        return False
    name = html.escape(avatar.name)  # the text is HTML: "<3 Anna" must not make Telegram refuse it
    # The recipient reads the notice in their own language (the worker has no request to take it from).
    with translation.override(language_for(avatar.user.language_code)):
        if avatar.status == AvatarStatus.COMPLETED:
            text = _("🎉 Ваш аватар «%(name)s» готов! Теперь можно создавать изображения.") % {"name": name}
            markup = notify.keyboard([(_("🎨 Создать изображение"), "generate")], [(_("🎭 Мои аватары"), "avatar_list")])
        else:
            text = _("😔 Не удалось обучить аватар «%(name)s». Монеты за обучение возвращены на баланс.") % {
                "name": name}
            markup = notify.keyboard([(_("🎭 Мои аватары"), "avatar_list")])
    try:
        notify.send_message(chat_id=avatar.user.telegram_id, text=text, reply_markup=markup)
    except notify.DeliveryFailed as exc:
        if not exc.permanent:
            Avatar.objects.filter(pk=avatar.pk).update(notified_at=None)  # the sweep will try again
        logger.warning("training notice for avatar %s not delivered: %s", avatar.pk, exc)
        return False
    return True


# --- generation -------------------------------------------------------------------------------------------------
def webhook_url() -> str:
    """Where FAL POSTs when a job ends ("" when webhooks are off). The path carries a token derived from
    ``FAL_WEBHOOK_SECRET``, never the secret: this URL sits in FAL's submit query, access logs and rows."""
    if not (settings.FAL_WEBHOOK_BASE_URL and settings.FAL_WEBHOOK_SECRET):
        return ""
    return f"{settings.FAL_WEBHOOK_BASE_URL.rstrip('/')}/fal/webhook/{webhook_path_token()}/"


def webhook_path_token(secret: str | None = None) -> str:
    secret = settings.FAL_WEBHOOK_SECRET if secret is None else secret
    return hashlib.sha256(f"aisha-fal-webhook-path:{secret}".encode()).hexdigest()[:32]


def webhook_path_token_valid(*, token: str) -> bool:
    """The cheap first filter: a wrong path is refused before any signature work or JWKS fetch."""
    return bool(settings.FAL_WEBHOOK_SECRET) and hmac.compare_digest(token.encode(), webhook_path_token().encode())


def _final_prompt(avatar: Avatar, prompt: str, template: StyleTemplate | None) -> str:
    trigger = avatar.trigger_phrase or avatar.trigger_word or "TOK"
    if template is not None:
        text = template.prompt
        return text.replace("TOK", trigger) if "TOK" in text else f"{trigger}, {text}"
    return f"photo of {trigger}, {prompt}"


def generation_create(
    *, user, avatar_id, aspect_ratio: str, num_images: int, prompt: str = "", template_id: str | None = None,
    request_token: str | None = None,
) -> ImageGeneration:
    """Charge ``num_images`` x the price and queue the generation. ``InsufficientFunds`` leaves nothing behind.

    A pending promo discount (see ``promocodes.services.discount_consume_for_purchase``) lowers the price and is
    consumed in the same transaction as the debit; a discounted price of 0 charges nothing. A failed
    generation refunds what was charged; the discount is not given back.

    ``request_token`` (the bot's one-time token of the request) makes a repeat a no-op: a double tap, even
    handled at once by two processes, returns the generation of the first one and charges nothing more."""
    if request_token and (existing := _generation_of_token(user=user, request_token=request_token)) is not None:
        return existing
    if aspect_ratio not in ASPECT_RATIOS:
        raise InvalidInput("aspect ratio")
    if not isinstance(num_images, int) or not 1 <= num_images <= settings.MAX_IMAGES_PER_GENERATION:
        raise InvalidInput("number of images")
    template = None
    if template_id:
        template = StyleTemplate.objects.filter(pk=template_id, is_active=True).first()
        if template is None:
            raise NotFound("template")
        prompt = template.name
    else:
        prompt = " ".join((prompt or "").split())
        if not PROMPT_MIN <= len(prompt) <= PROMPT_MAX:
            raise InvalidInput("prompt")
    with transaction.atomic():
        avatar = _owned_avatar(user=user, avatar_id=avatar_id)
        if avatar.status != AvatarStatus.COMPLETED or not avatar.diffusers_lora_file_url:
            raise InvalidState("avatar is not ready")
        fal.provider_get()  # refuses (no key in production) before any money moves
        try:
            with transaction.atomic():
                generation = ImageGeneration.objects.create(
                    user_id=avatar.user_id, avatar=avatar, template=template, generation_type="avatar",
                    source_model=fal.LORA_GENERATOR, original_prompt=prompt[:1000],
                    final_prompt=_final_prompt(avatar, prompt, template)[:5000], aspect_ratio=aspect_ratio,
                    num_images=num_images, status=GenerationStatus.PENDING, request_token=request_token or None,
                )
        except IntegrityError:
            # The same request committed in the meantime (the unique token): that one was charged.
            existing = _generation_of_token(user=user, request_token=request_token) if request_token else None
            if existing is None:
                raise
            return existing
        price, discount = promo_services.discount_consume_for_purchase(
            user=avatar.user_id, price=_full_price(generation), used_for=f"generation:{generation.pk.hex}")
        _charge_and_queue(generation, amount=price, extra_data={
            "full_price": str(_full_price(generation)), "promokode_usage_id": str(discount.pk),
            "discount_percent": str(discount.promokode.discount_percent)} if discount else None)
    return generation


def _generation_of_token(*, user, request_token: str) -> ImageGeneration | None:
    return ImageGeneration.objects.select_related("charge").filter(
        request_token=request_token, user_id=getattr(user, "pk", user)).first()


def _full_price(generation: ImageGeneration) -> Decimal:
    return settings.IMAGE_GENERATION_COST * Decimal(generation.num_images or 1)


def _charge_and_queue(generation: ImageGeneration, *, amount: Decimal | None = None,
                      extra_data: dict | None = None) -> None:
    """Charge the next attempt of a generation and queue its submission (inside the caller's transaction).

    ``amount`` defaults to what the previous attempt cost (a retry keeps a discounted or free price), or the full
    price for a first attempt. Nothing is debited for a price of 0: the generation then has no charge (and no
    refund), its deadline marks it as this project's job."""
    attempt = generation.attempt + 1
    if amount is None:
        if generation.charge_id is not None:
            amount = -generation.charge.amount
        else:
            amount = Decimal("0") if generation.attempt else _full_price(generation)
    charge = None
    if amount > 0:
        charge = billing_services.balance_debit(
            user=generation.user_id, amount=amount,
            type=TransactionType.CHARGE,
            description=describe(ledger_texts.IMAGE_GENERATION, count=generation.num_images),
            idempotency_key=f"generation:{generation.pk}:{attempt}", created_by="bot",
            extra_data={"generation_id": str(generation.pk), "attempt": attempt, **(extra_data or {})},
        )
    now = timezone.now()
    ImageGeneration.objects.filter(pk=generation.pk).update(
        attempt=attempt, charge=charge, status=GenerationStatus.PENDING, provider_request_id=None,
        provider_endpoint=fal.LORA_GENERATOR, error_message=None, last_status_check=now, delivered_at=None,
        deadline=now + timedelta(seconds=settings.FAL_GENERATION_TIMEOUT), result_urls=None, result_files=[],
    )
    generation.refresh_from_db()
    generation.charge = charge  # the bot shows what was charged without another query
    _on_commit("submit_generation", str(generation.pk))


def generation_regenerate(*, user, generation_id, request_token: str | None = None) -> ImageGeneration:
    """A new generation with the same settings, charged once; ``request_token`` as for ``generation_create``."""
    original = _owned_generation(user=user, generation_id=generation_id)
    if original.avatar_id is None:
        raise InvalidState("the avatar of this image was deleted")
    return generation_create(
        user=user, avatar_id=original.avatar_id, aspect_ratio=original.aspect_ratio or "1:1",
        num_images=original.num_images or 1, prompt=original.original_prompt,
        template_id=original.template_id if original.template_id else None, request_token=request_token,
    )


def generation_retry(*, generation: ImageGeneration) -> ImageGeneration:
    """Resubmit a failed generation (an operator's action): a new attempt, charged once (its own key)."""
    with transaction.atomic():
        generation = ImageGeneration.objects.select_for_update().get(pk=generation.pk)
        if generation.status not in (GenerationStatus.FAILED, GenerationStatus.CANCELLED):
            raise InvalidState(_("only a failed generation can be retried"))
        if generation.avatar is None or not generation.avatar.diffusers_lora_file_url:
            raise InvalidState(_("the avatar is gone"))
        _charge_and_queue(generation)
    return generation


def _generation_arguments(generation: ImageGeneration) -> dict:
    return {
        "prompt": generation.final_prompt,
        "loras": [{"path": generation.avatar.diffusers_lora_file_url, "scale": fal.LORA_SCALE}],
        "image_size": fal.IMAGE_SIZES.get(generation.aspect_ratio or "1:1", "square_hd"),
        "num_images": generation.num_images or 1,
        "num_inference_steps": 28, "guidance_scale": 3.5, "enable_safety_checker": True, "output_format": "jpeg",
    }


def generation_submit(*, generation_id) -> None:
    """Submit a charged generation (a task); no-op unless it awaits submission."""
    generation = ImageGeneration.objects.select_related("avatar").filter(  # ours only (not legacy rows): charged,
        Q(charge__isnull=False) | Q(deadline__isnull=False),  # or free (a discount) with our deadline
        pk=generation_id, status=GenerationStatus.PENDING, provider_request_id__isnull=True).first()
    if generation is None:
        return
    if generation.avatar is None or not generation.avatar.diffusers_lora_file_url:
        generation_fail(generation_id=generation.pk, reason="avatar deleted")
        return
    try:
        provider = fal.provider_get()
        submitted = provider.submit(generation.provider_endpoint or fal.LORA_GENERATOR,
                                    _generation_arguments(generation), webhook_url=webhook_url())
    except ProviderError as exc:
        if exc.retryable and not _expired(generation.deadline):
            _tasks().schedule("submit_generation", settings.FAL_POLL_INTERVAL, str(generation.pk))
        else:
            generation_fail(generation_id=generation.pk, reason=str(exc))
        return
    except Exception as exc:
        logger.exception("generation %s submit failed", generation.pk)
        generation_fail(generation_id=generation.pk, reason=str(exc))
        return
    updated = ImageGeneration.objects.filter(
        pk=generation.pk, status=GenerationStatus.PENDING, provider_request_id__isnull=True,
    ).update(provider_request_id=submitted.request_id, status=GenerationStatus.PROCESSING,
             last_status_check=timezone.now())
    if updated:
        _tasks().schedule("poll_generation", 0 if provider.is_dev else settings.FAL_POLL_INTERVAL, str(generation.pk))


def generation_poll(*, generation_id) -> None:
    """One status check of a generation (a task); schedules the next one while the job runs."""
    generation = ImageGeneration.objects.filter(pk=generation_id, status__in=IN_FLIGHT).first()
    if generation is None:
        return
    if not generation.provider_request_id:
        generation_submit(generation_id=generation.pk)
        return
    provider = fal.provider_get()
    endpoint = generation.provider_endpoint or fal.LORA_GENERATOR
    try:
        if provider.status(endpoint, generation.provider_request_id).done:
            output = provider.result(endpoint, generation.provider_request_id)
            generation_complete(generation_id=generation.pk, request_id=generation.provider_request_id,
                                output=output)
            return
    except ProviderError as exc:
        if not exc.retryable:
            generation_fail(generation_id=generation.pk, reason=str(exc), request_id=generation.provider_request_id)
            return
    if _expired(generation.deadline):
        _cancel_quietly(provider, endpoint, generation.provider_request_id)
        generation_fail(generation_id=generation.pk, reason="timeout")
        return
    ImageGeneration.objects.filter(pk=generation.pk, status__in=IN_FLIGHT).update(last_status_check=timezone.now())
    _tasks().schedule("poll_generation", settings.FAL_POLL_INTERVAL, str(generation.pk))


def _usable_images(output) -> list[str]:
    images = output.get("images") if isinstance(output, dict) else None
    if not isinstance(images, list):
        return []
    flags = output.get("has_nsfw_concepts") or []
    urls = []
    for index, image in enumerate(images):
        url = image.get("url") if isinstance(image, dict) else None
        flagged = index < len(flags) and flags[index] is True
        if isinstance(url, str) and url and not flagged:
            urls.append(url)
    return urls


def generation_complete(*, generation_id, request_id: str, output) -> bool:
    """Copy the images into our storage and mark the generation completed, once. At most the requested number
    of images is kept, and each must download under the provider's rules and decode as an image. Output without
    usable images, or a file refused, is a failure (refunded). Returns False when the job had already finished."""
    generation = ImageGeneration.objects.filter(pk=generation_id, status__in=IN_FLIGHT,
                                                provider_request_id=request_id).first()
    if generation is None:
        return False
    urls = _usable_images(output)[:generation.num_images or 1]
    if not urls:
        return generation_fail(generation_id=generation_id, reason="no usable images in the result",
                               request_id=request_id)
    provider = fal.provider_get()
    names = []
    try:
        for number, url in enumerate(urls, 1):
            content = provider.download(url)
            extension = photos.result_image_extension(content=content)
            names.append(default_storage.save(f"generations/{generation_id}/{number}.{extension}",
                                              ContentFile(content)))
    except (ProviderError, PhotoRejected) as exc:
        for name in names:
            default_storage.delete(name)
        if isinstance(exc, ProviderError) and exc.retryable:
            raise
        reason = f"result image {len(names) + 1}: {exc}"
        return generation_fail(generation_id=generation_id, reason=reason, request_id=request_id)
    with transaction.atomic():
        done = ImageGeneration.objects.filter(
            pk=generation_id, status__in=IN_FLIGHT, provider_request_id=request_id,
        ).update(status=GenerationStatus.COMPLETED, result_urls=urls, result_files=names,
                 completed_at=timezone.now(), last_status_check=timezone.now(),
                 generation_time=None, prompt_metadata={"seed": output.get("seed")})
        if done:
            _on_commit("deliver_generation", str(generation_id))
    if not done:  # a webhook and a poller raced; the other one kept its copies
        for name in names:
            default_storage.delete(name)
    return bool(done)


def generation_fail(*, generation_id, reason: str, request_id: str | None = None) -> bool:
    """Mark a generation failed and refund its charge (once); False when it had already finished."""
    with transaction.atomic():
        matching = ImageGeneration.objects.filter(pk=generation_id, status__in=IN_FLIGHT)
        if request_id is not None:
            matching = matching.filter(provider_request_id=request_id)
        if not matching.update(status=GenerationStatus.FAILED, error_message=reason[:1000],
                               completed_at=timezone.now()):
            return False
        generation = ImageGeneration.objects.get(pk=generation_id)
        _refund_quietly(generation_refund, generation=generation)
        _on_commit("deliver_generation", str(generation_id))
    logger.warning("generation %s failed: %s", generation_id, reason)
    return True


def generation_refund(*, generation: ImageGeneration, created_by: str):
    """Refund the current charge of a failed generation; at most once per charge. Returns the refund entry or None.

    Only the generation's own charge: the entry must name this generation and belong to its user
    (``ChargeMismatch``), checked with the generation row locked.
    """
    with transaction.atomic():
        generation = ImageGeneration.objects.select_for_update().get(pk=generation.pk)
        if generation.status not in (GenerationStatus.FAILED, GenerationStatus.CANCELLED):
            raise InvalidState("only a failed generation is refunded")
        if generation.charge_id is None:
            return None
        return billing_services.balance_refund(
            entry=generation.charge_id, description=ledger_texts.IMAGE_GENERATION_REFUND, created_by=created_by,
            user=generation.user_id, charged_for={"generation_id": str(generation.pk)},
        )


def generation_deliver(*, generation_id) -> bool:
    """Send the album (or the failure notice) once: ``delivered_at`` is claimed before sending and released
    only when Telegram could not take it and a retry may help."""
    generation = ImageGeneration.objects.select_related("user").filter(
        pk=generation_id, status__in=(GenerationStatus.COMPLETED, GenerationStatus.FAILED)).first()
    if generation is None:
        return False
    if not ImageGeneration.objects.filter(pk=generation.pk, delivered_at__isnull=True).update(
            delivered_at=timezone.now()):
        return False
    chat_id = generation.user.telegram_id
    with translation.override(language_for(generation.user.language_code)):
        try:
            if generation.status == GenerationStatus.COMPLETED:
                images = []
                for name in generation.result_files or []:
                    with default_storage.open(name, "rb") as handle:
                        images.append((name.rsplit("/", 1)[-1], handle.read()))
                notify.send_albums(chat_id=chat_id, images=images, caption=_("✨ Изображения готовы!"))
                _send_quietly(chat_id=chat_id, text=_("Изображения сохранены в галерее."),
                              reply_markup=notify.keyboard([(_("🎨 Ещё"), "generate"), (_("🖼 Галерея"), "gallery")]))
            else:
                notify.send_message(
                    chat_id=chat_id,
                    text=_("😔 Не удалось создать изображение. 💰 Ваш баланс восстановлен."),
                    reply_markup=notify.keyboard([(_("🎨 Попробовать снова"), "generate")]),
                )
        except notify.DeliveryFailed as exc:
            if not exc.permanent:
                ImageGeneration.objects.filter(pk=generation.pk).update(delivered_at=None)
            logger.warning("generation %s not delivered: %s", generation.pk, exc)
            return False
    return True


def _send_quietly(**kwargs) -> None:
    """A follow-up message after the album was delivered: losing it must not re-send the album."""
    try:
        notify.send_message(**kwargs)
    except notify.DeliveryFailed as exc:
        logger.info("follow-up message not delivered: %s", exc)


def _owned_generation(*, user, generation_id) -> ImageGeneration:
    generation = ImageGeneration.objects.filter(
        pk=generation_id, user_id=getattr(user, "pk", user), is_saved=True,
    ).first() if _is_uuid(generation_id) else None
    if generation is None:
        raise NotFound("generation")
    return generation


def generation_toggle_favorite(*, user, generation_id) -> ImageGeneration:
    generation = _owned_generation(user=user, generation_id=generation_id)
    generation.is_favorite = not generation.is_favorite
    generation.save(update_fields=["is_favorite"])
    return generation


def generation_delete(*, user, generation_id) -> None:
    """Remove an image from the gallery (the row stays for the ledger's sake)."""
    generation = _owned_generation(user=user, generation_id=generation_id)
    ImageGeneration.objects.filter(pk=generation.pk).update(is_saved=False)


# --- webhook and sweep ------------------------------------------------------------------------------------------
def provider_webhook_receive(*, body: bytes, headers) -> str:
    """A webhook as it arrived: FAL's signature over the raw body is verified (``WebhookSignatureInvalid``,
    or ``ProviderTransientError`` when FAL's keys cannot be fetched) before anything is read from it."""
    fal_signature.signature_verify(headers=headers, body=body, jwks_url=settings.FAL_JWKS_URL,
                                   timeout=min(settings.FAL_TIMEOUT, 10.0))
    try:
        parsed = json.loads(body)
    except ValueError:
        raise InvalidInput("malformed JSON") from None
    outcome = provider_webhook_handle(body=parsed)
    logger.info("FAL webhook %s: %s", parsed.get("request_id") if isinstance(parsed, dict) else None, outcome)
    return outcome


def provider_webhook_handle(*, body: dict) -> str:
    """Apply a FAL webhook ({request_id, status OK|ERROR, payload}); idempotent with polling. Returns what
    happened: ``completed``, ``failed``, ``duplicate`` or ``unknown``."""
    request_id = body.get("request_id") if isinstance(body, dict) else None
    if not isinstance(request_id, str) or not request_id:
        raise InvalidInput("request_id")
    ok = body.get("status") == "OK"
    payload = body.get("payload")
    reason = str(body.get("error") or body.get("payload_error") or payload)[:1000]
    if (avatar := Avatar.objects.filter(fal_request_id=request_id).first()) is not None:
        if ok and payload is not None:
            done = avatar_training_complete(avatar_id=avatar.pk, request_id=request_id, output=payload)
        else:
            done = avatar_training_fail(avatar_id=avatar.pk, reason=reason, request_id=request_id)
    elif (generation := ImageGeneration.objects.filter(provider_request_id=request_id).first()) is not None:
        if ok and payload is not None:
            done = generation_complete(generation_id=generation.pk, request_id=request_id, output=payload)
        else:
            done = generation_fail(generation_id=generation.pk, reason=reason, request_id=request_id)
    else:
        return "unknown"
    if not done:
        return "duplicate"
    return "completed" if ok and payload is not None else "failed"


def jobs_resume_stuck() -> dict:
    """Re-start the poll chains that died (worker restart) and the deliveries that never happened. Only jobs
    this project started (charged, or with our deadline): rows of an adopted legacy database were never
    charged here, so they are neither sent to FAL nor told "balance restored"."""
    ours_training = Q(charge__isnull=False) | Q(training_deadline__isnull=False)
    ours_generation = Q(charge__isnull=False) | Q(deadline__isnull=False)
    stale = timezone.now() - timedelta(seconds=settings.FAL_STUCK_AFTER)
    tasks = _tasks()
    counts = {"trainings": 0, "generations": 0, "deliveries": 0, "notices": 0}
    for pk in Avatar.objects.filter(ours_training, status=AvatarStatus.TRAINING).filter(
            Q(last_status_check__lt=stale) | Q(last_status_check__isnull=True)).values_list("pk", flat=True):
        Avatar.objects.filter(pk=pk).update(last_status_check=timezone.now())
        tasks.schedule("poll_avatar_training", 0, str(pk))
        counts["trainings"] += 1
    for pk in ImageGeneration.objects.filter(ours_generation, status__in=IN_FLIGHT).filter(
            Q(last_status_check__lt=stale) | Q(last_status_check__isnull=True)).values_list("pk", flat=True):
        ImageGeneration.objects.filter(pk=pk).update(last_status_check=timezone.now())
        tasks.schedule("poll_generation", 0, str(pk))
        counts["generations"] += 1
    for pk in ImageGeneration.objects.filter(
            ours_generation, status__in=(GenerationStatus.COMPLETED, GenerationStatus.FAILED),
            delivered_at__isnull=True, completed_at__lt=stale).values_list("pk", flat=True):
        tasks.schedule("deliver_generation", 0, str(pk))
        counts["deliveries"] += 1
    for pk in Avatar.objects.filter(status__in=(AvatarStatus.COMPLETED, AvatarStatus.ERROR), notified_at__isnull=True,
                                    last_status_check__lt=stale, charge__isnull=False).values_list("pk", flat=True):
        tasks.schedule("notify_avatar_training", 0, str(pk))
        counts["notices"] += 1
    return counts
