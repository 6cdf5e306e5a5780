"""Helpers shared by the generations services: ids from callback data, owned objects."""

import uuid

from generations.exceptions import NotFound
from generations.models import Avatar, ImageGeneration


def is_uuid(value) -> bool:
    """Ids come from callback data: anything that is not a UUID names no object (and must not reach SQL)."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def user_id_of(user):
    return getattr(user, "pk", user)


def owned_avatar(*, user, avatar_id, lock: bool = False) -> Avatar:
    queryset = Avatar.objects.select_for_update() if lock else Avatar.objects
    avatar = queryset.filter(pk=avatar_id, user_id=user_id_of(user)).first() if is_uuid(avatar_id) else None
    if avatar is None:
        raise NotFound("avatar")
    return avatar


def owned_generation(*, user, generation_id) -> ImageGeneration:
    generation = ImageGeneration.objects.filter(
        pk=generation_id, user_id=user_id_of(user), is_saved=True,
    ).first() if is_uuid(generation_id) else None
    if generation is None:
        raise NotFound("generation")
    return generation
