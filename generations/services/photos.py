"""Writes of an avatar's training photos: add (validated, deduplicated) and delete."""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from generations import photos
from generations.exceptions import InvalidState, NotFound, PhotoLimitReached, PhotoRejected
from generations.models import Avatar, AvatarPhoto, AvatarStatus, PhotoValidationStatus
from generations.services.common import is_uuid, owned_avatar

EDITABLE_STATUSES = (AvatarStatus.DRAFT, AvatarStatus.PHOTOS_UPLOADING, AvatarStatus.READY_FOR_TRAINING)


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
            avatar = owned_avatar(user=user, avatar_id=avatar_id, lock=True)
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
        avatar = owned_avatar(user=user, avatar_id=avatar_id, lock=True)
        if avatar.status not in EDITABLE_STATUSES:
            raise InvalidState("photos can no longer be changed")
        photo = avatar.photos.filter(pk=photo_id).first() if is_uuid(photo_id) else None
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
