"""Training of an avatar (a LoRA of a person or a style): the charge and the training job kind.

The job itself (submit, poll, complete, fail-and-refund-once) is ``generations.services.jobs``; this module says
what is particular to training: the photos archive and the trainer's input, the model file as the result, the
refund of the training charge.
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing import ledger_texts
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.ledger_texts import describe
from billing.models import TransactionType
from generations import fal
from generations.exceptions import InvalidState, NotEnoughPhotos
from generations.models import Avatar, AvatarStatus, AvatarTrainingType, FailureReason, PhotoValidationStatus
import generations.services.jobs as jobs
from generations.services.avatars import main_avatar_ensure, neutral_trigger
from generations.services.common import owned_avatar
from generations.services.webhook_urls import webhook_url


def avatar_training_start(*, user, avatar_id) -> Avatar:
    """Charge the training price and queue the submission. A double click charges once: the status moves
    ready_for_training -> training under the row lock, and the charge key names the attempt."""
    with transaction.atomic():
        avatar = owned_avatar(user=user, avatar_id=avatar_id, lock=True)
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
            fal_request_id=None, training_progress=0, training_error=None, failure_reason=None,
            provider_failures=0, training_started_at=now,
            training_deadline=now + timedelta(seconds=settings.FAL_TRAINING_TIMEOUT), last_status_check=now,
            notified_at=None, steps=settings.FAL_TRAINING_STEPS, learning_rate=settings.FAL_TRAINING_LEARNING_RATE,
            # An adopted legacy avatar may have none: it is trained with the neutral one (and generates with it).
            trigger_phrase=avatar.trigger_phrase or neutral_trigger(avatar), updated_at=now,
        )
        jobs.job_queue(jobs.Next(jobs.Kind.TRAINING, jobs.Step.SUBMIT, str(avatar.pk)))
    avatar.refresh_from_db()
    return avatar


def _input(avatar: Avatar, images_url: str) -> dict:
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


def _arguments(avatar: Avatar, provider) -> dict:
    url = provider.upload(_photos_zip(avatar), content_type="application/zip", file_name=f"{avatar.pk}.zip")
    return _input(avatar, url)


def _progress(avatar: Avatar, status: fal.Status) -> dict:
    """A rough percentage from the trainer's log lines ("step 10/1000"); 5 while running without one."""
    return {"training_progress": _percent(status)}


def _percent(status: fal.Status) -> int:
    if status.status == fal.IN_QUEUE:
        return 0
    for line in reversed(status.logs):
        digits = [int(part) for part in line.replace("/", " ").split() if part.isdigit()]
        if len(digits) >= 2 and digits[-1] and digits[-2] <= digits[-1]:
            return min(99, 100 * digits[-2] // digits[-1])
    return 5


def _complete(avatar: Avatar, output, provider) -> jobs.Completion:
    """The model file is the result: an avatar is never ready without a real LoRA file."""
    lora = output.get("diffusers_lora_file") if isinstance(output, dict) else None
    lora_url = lora.get("url") if isinstance(lora, dict) else None
    if not isinstance(lora_url, str) or not lora_url:
        raise jobs.JobFailed("no diffusers_lora_file in the result", FailureReason.PROVIDER_ERROR)
    config = output.get("config_file") if isinstance(output.get("config_file"), dict) else {}
    now = timezone.now()
    return jobs.Completion(fields={
        "status": AvatarStatus.COMPLETED, "diffusers_lora_file_url": lora_url[:500],
        "config_file_url": (config.get("url") or "")[:500] or None, "fal_response_data": output,
        "training_progress": 100, "training_completed_at": now, "last_status_check": now, "updated_at": now,
    })


def avatar_training_refund(*, avatar: Avatar, created_by: str):
    """Refund the training charge of a failed avatar, once. Returns the refund made now, or None when there is
    no charge or it was refunded before.

    Only the avatar's own charge: the entry must name this avatar and belong to its user (``ChargeMismatch``),
    checked with the avatar row locked, so a row pointed at another charge cannot move anyone's money.
    """
    with transaction.atomic():
        avatar = Avatar.objects.select_for_update().get(pk=avatar.pk)
        if avatar.status not in (AvatarStatus.ERROR, AvatarStatus.CANCELLED):
            raise InvalidState("only a failed training is refunded")
        if avatar.charge_id is None or billing_selectors.reversal_live(entry=avatar.charge_id) is not None:
            return None
        return billing_services.balance_refund(
            entry=avatar.charge_id, description=describe(ledger_texts.AVATAR_TRAINING_REFUND, name=avatar.name),
            created_by=created_by, user=avatar.user_id, charged_for={"avatar_id": str(avatar.pk)},
        )


def _now_fields() -> dict:
    now = timezone.now()
    return {"last_status_check": now, "updated_at": now}


TRAINING = jobs.JobSpec(
    kind=jobs.Kind.TRAINING, model=Avatar, request_field="fal_request_id", endpoint_field="training_endpoint",
    deadline_field="training_deadline", error_field="training_error", error_max=2000,
    in_flight=(AvatarStatus.TRAINING,), submitted_status=AvatarStatus.TRAINING, failed_status=AvatarStatus.ERROR,
    # Only a charged training is sent to FAL: a legacy row caught "training" was never paid for here.
    ours=Q(charge__isnull=False), default_endpoint=fal.PORTRAIT_TRAINER, arguments=_arguments, complete=_complete,
    refund=lambda avatar, created_by: avatar_training_refund(avatar=avatar, created_by=created_by),
    submitted_fields=lambda avatar, arguments: {"training_config": arguments, "webhook_url": webhook_url() or None},
    failed_fields=_now_fields, on_complete=lambda avatar: main_avatar_ensure(user_id=avatar.user_id),
    first_poll=lambda: settings.FAL_TRAINING_FIRST_POLL, poll_interval=lambda: settings.FAL_TRAINING_POLL_INTERVAL,
    progress=_progress,
)


def avatar_training_submit(*, avatar_id) -> jobs.Next | None:
    """Upload the photos and submit the training (a task). No-op unless the avatar awaits submission."""
    return jobs.job_submit(TRAINING, job_id=avatar_id)


def avatar_training_poll(*, avatar_id) -> jobs.Next | None:
    """One status check of a training (a task); returns the next one while the job runs."""
    return jobs.job_poll(TRAINING, job_id=avatar_id)


def avatar_training_complete(*, avatar_id, request_id: str, output) -> bool:
    """Mark a training completed with the model file; False when it was already finished (a late duplicate)."""
    return jobs.job_complete(TRAINING, job_id=avatar_id, request_id=request_id, output=output)


def avatar_training_fail(*, avatar_id, reason: str, request_id: str | None = None,
                         failure_reason: str = FailureReason.PROVIDER_ERROR) -> bool:
    """Mark a training failed and refund its charge (once); False when it had already finished."""
    return jobs.job_fail(TRAINING, job_id=avatar_id, reason=reason, request_id=request_id,
                         failure_reason=failure_reason)
