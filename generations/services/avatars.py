"""Writes of avatars: create, rename, main, delete."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from generations.exceptions import InvalidInput, InvalidState
from generations.models import Avatar, AvatarGender, AvatarStatus, AvatarTrainingType
from generations.names import visible_name
from generations.services.common import owned_avatar

NAME_MIN, NAME_MAX = 2, 50
# A new avatar is male or female (as the wizard offers); "other" exists only on adopted legacy rows.
NEW_AVATAR_GENDERS = (AvatarGender.MALE, AvatarGender.FEMALE)


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
    avatar.trigger_phrase = neutral_trigger(avatar)
    avatar.trigger_word = avatar.trigger_phrase
    avatar.save()
    return avatar


def neutral_trigger(avatar: Avatar) -> str:
    """The word a LoRA learns the person by: the same for every gender (no "man"/"woman" in it or in captions)."""
    return f"TOK_{avatar.pk.hex[:8]}"


def avatar_rename(*, user, avatar_id, name: str) -> Avatar:
    avatar = owned_avatar(user=user, avatar_id=avatar_id)
    avatar.name = _clean_name(name)
    avatar.updated_at = timezone.now()
    avatar.save(update_fields=["name", "updated_at"])
    return avatar


@transaction.atomic
def avatar_set_main(*, user, avatar_id) -> Avatar:
    """Make a completed avatar the user's main one (the only one: a partial unique constraint backs it)."""
    avatar = owned_avatar(user=user, avatar_id=avatar_id, lock=True)
    if avatar.status != AvatarStatus.COMPLETED:
        raise InvalidState("only a ready avatar can be main")
    Avatar.objects.filter(user_id=avatar.user_id, is_main=True).exclude(pk=avatar.pk).update(is_main=False)
    Avatar.objects.filter(pk=avatar.pk).update(is_main=True)
    avatar.is_main = True
    return avatar


def avatar_delete(*, user, avatar_id) -> None:
    """Delete an avatar and its photos; its generated images stay in the gallery. Not while it trains."""
    with transaction.atomic():
        avatar = owned_avatar(user=user, avatar_id=avatar_id, lock=True)
        if avatar.status == AvatarStatus.TRAINING:
            raise InvalidState("training in progress")
        names = [p.file.name for p in avatar.photos.all() if p.file]
        avatar.delete()
        main_avatar_ensure(user_id=avatar.user_id)
    for name in names:
        default_storage.delete(name)


def main_avatar_ensure(*, user_id) -> None:
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
