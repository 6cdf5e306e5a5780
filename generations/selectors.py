"""Reads of avatars, the style catalogue and the gallery. Every read of a user's object is owner-checked."""

from datetime import date

from django.db.models import Count, Q, QuerySet

from common.periods import per_day
from generations.exceptions import NotFound
from generations.models import (
    Avatar, AvatarPhoto, AvatarStatus, GenerationStatus, ImageGeneration, PhotoValidationStatus, StyleCategory,
    StyleSubcategory, StyleTemplate,
)
from generations.services.common import is_uuid


def _user_id(user):
    return getattr(user, "pk", user)


def avatar_list(*, user) -> list[Avatar]:
    """Main first, then newest."""
    return list(Avatar.objects.filter(user_id=_user_id(user)).order_by("-is_main", "-created_at"))


def avatar_get(*, user, avatar_id) -> Avatar:
    avatar = Avatar.objects.filter(pk=avatar_id, user_id=_user_id(user)).first() if is_uuid(avatar_id) else None
    if avatar is None:
        raise NotFound("avatar")
    return avatar


def avatar_ready_list(*, user) -> list[Avatar]:
    return list(Avatar.objects.filter(user_id=_user_id(user), status=AvatarStatus.COMPLETED)
                .exclude(diffusers_lora_file_url__isnull=True).order_by("-is_main", "-created_at"))


def avatar_photo_list(*, user, avatar_id) -> list[AvatarPhoto]:
    avatar = avatar_get(user=user, avatar_id=avatar_id)
    return list(avatar.photos.filter(validation_status=PhotoValidationStatus.VALID).order_by("upload_order",
                                                                                              "created_at"))


def avatar_photo_content(*, user, avatar_id, photo_id) -> bytes:
    photo = next((p for p in avatar_photo_list(user=user, avatar_id=avatar_id) if str(p.pk) == str(photo_id)), None)
    if photo is None or not photo.file:
        raise NotFound("photo")
    with photo.file.open("rb") as handle:
        return handle.read()


def style_category_list() -> list[StyleCategory]:
    return list(StyleCategory.objects.filter(is_active=True))


def style_subcategory_list(*, category_id: str) -> list[StyleSubcategory]:
    return list(StyleSubcategory.objects.filter(category_id=category_id, is_active=True))


def style_template_list(*, subcategory_id: str) -> list[StyleTemplate]:
    return list(StyleTemplate.objects.filter(subcategory_id=subcategory_id, is_active=True))


def style_template_get(*, template_id: str) -> StyleTemplate:
    template = StyleTemplate.objects.filter(pk=template_id, is_active=True).first()
    if template is None:
        raise NotFound("template")
    return template


def gallery_queryset(*, user) -> QuerySet[ImageGeneration]:
    return ImageGeneration.objects.filter(
        user_id=_user_id(user), status=GenerationStatus.COMPLETED, is_saved=True,
    ).select_related("avatar").order_by("-created_at", "-pk")


def gallery_page(*, user, index: int) -> tuple[ImageGeneration | None, int]:
    """The ``index``-th image card of the gallery (newest first) and the total; index wraps around."""
    queryset = gallery_queryset(user=user)
    total = queryset.count()
    if not total:
        return None, 0
    return queryset[index % total], total


def generation_get(*, user, generation_id) -> ImageGeneration:
    generation = ImageGeneration.objects.filter(
        pk=generation_id, user_id=_user_id(user), is_saved=True).first() if is_uuid(generation_id) else None
    if generation is None:
        raise NotFound("generation")
    return generation


def generation_requested(*, user, request_token: str) -> bool:
    """Whether the user's request with this one-time token has already created its generation."""
    return ImageGeneration.objects.filter(request_token=request_token, user_id=_user_id(user)).exists()


def generation_file_contents(*, generation: ImageGeneration) -> list[tuple[str, bytes]]:
    from django.core.files.storage import default_storage

    out = []
    for name in generation.result_files or []:
        with default_storage.open(name, "rb") as handle:
            out.append((name.rsplit("/", 1)[-1], handle.read()))
    return out


def generation_counts_per_day(*, since: date, until: date) -> dict[date, dict[str, int]]:
    """Image generations requested each day ``since`` .. ``until``: ``{day: {"total": n, "failed": n}}`` (days
    without any are left out); one query."""
    return per_day(ImageGeneration.objects.all(), since=since, until=until, total=Count("pk"),
                   failed=Count("pk", filter=Q(status=GenerationStatus.FAILED)))


def avatar_counts_by_status() -> dict[str, int]:
    """Avatars per status value (statuses without any are left out)."""
    return dict(Avatar.objects.values_list("status").annotate(n=Count("pk")).order_by())
