"""What a user asks for: a generation with an avatar (a style or their own prompt), again the same, or an Imagen 4
image by description. Each is validated, charged once and queued (``generation.generation_open``)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from generations import fal
from generations.exceptions import InvalidInput, InvalidState, NotFound
from generations.models import Avatar, AvatarStatus, ImageGeneration, StyleTemplate
from generations.services.common import owned_avatar, owned_generation
from generations.services.generation import IMAGEN4, LORA, generation_of_token, generation_open, generator_model

PROMPT_MIN, PROMPT_MAX = 5, 1000
ASPECT_RATIOS = tuple(fal.IMAGE_SIZES)
# Imagen 4 "by description" (upstream-bot.md §7.2): a longer prompt, four aspect ratios.
IMAGEN4_PROMPT_MIN, IMAGEN4_PROMPT_MAX = 3, 2000
IMAGEN4_ASPECT_RATIOS = ("9:16", "1:1", "16:9", "3:4")


def _final_prompt(avatar: Avatar, prompt: str, template: StyleTemplate | None) -> str:
    trigger = avatar.trigger_phrase or avatar.trigger_word or "TOK"
    if template is not None:
        text = template.prompt
        return text.replace("TOK", trigger) if "TOK" in text else f"{trigger}, {text}"
    return f"photo of {trigger}, {prompt}"


def _check_count(num_images) -> None:
    if not isinstance(num_images, int) or not 1 <= num_images <= settings.MAX_IMAGES_PER_GENERATION:
        raise InvalidInput("number of images")


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
    if request_token and (existing := generation_of_token(user=user, request_token=request_token)) is not None:
        return existing
    if aspect_ratio not in ASPECT_RATIOS:
        raise InvalidInput("aspect ratio")
    _check_count(num_images)
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
        avatar = owned_avatar(user=user, avatar_id=avatar_id)
        if avatar.status != AvatarStatus.COMPLETED or not avatar.diffusers_lora_file_url:
            raise InvalidState("avatar is not ready")
        fal.provider_get()  # refuses (no key in production) before any money moves
        return generation_open(
            user_id=avatar.user_id, model=LORA, request_token=request_token, avatar=avatar, template=template,
            original_prompt=prompt[:1000], final_prompt=_final_prompt(avatar, prompt, template)[:5000],
            aspect_ratio=aspect_ratio, num_images=num_images,
        )


def imagen_generation_create(*, user, prompt: str, aspect_ratio: str, num_images: int = 1,
                             request_token: str | None = None) -> ImageGeneration:
    """An Imagen 4 generation by description (no avatar): charged ``IMAGEN4_GENERATION_COST`` per image once,
    refunded once if it fails; ``request_token`` as for ``generation_create``."""
    if request_token and (existing := generation_of_token(user=user, request_token=request_token)) is not None:
        return existing
    if aspect_ratio not in IMAGEN4_ASPECT_RATIOS:
        raise InvalidInput("aspect ratio")
    _check_count(num_images)
    prompt = imagen_prompt_clean(prompt=prompt)
    with transaction.atomic():
        fal.provider_get()  # refuses (no key in production) before any money moves
        return generation_open(
            user_id=getattr(user, "pk", user), model=IMAGEN4, request_token=request_token,
            original_prompt=prompt[:1000], final_prompt=prompt, aspect_ratio=aspect_ratio, num_images=num_images,
        )


def imagen_prompt_clean(*, prompt: str) -> str:
    """The description as it will be sent; ``InvalidInput`` unless it has 3-2000 characters."""
    prompt = " ".join((prompt or "").split())
    if not IMAGEN4_PROMPT_MIN <= len(prompt) <= IMAGEN4_PROMPT_MAX:
        raise InvalidInput("prompt")
    return prompt


def generation_regenerate(*, user, generation_id, request_token: str | None = None) -> ImageGeneration:
    """A new generation with the same settings, charged once; ``request_token`` as for ``generation_create``."""
    original = owned_generation(user=user, generation_id=generation_id)
    if generator_model(original) is IMAGEN4:
        return imagen_generation_create(user=user, prompt=original.final_prompt, aspect_ratio=original.aspect_ratio,
                                        num_images=original.num_images or 1, request_token=request_token)
    if original.avatar_id is None:
        raise InvalidState("the avatar of this image was deleted")
    return generation_create(
        user=user, avatar_id=original.avatar_id, aspect_ratio=original.aspect_ratio or "1:1",
        num_images=original.num_images or 1, prompt=original.original_prompt,
        template_id=original.template_id if original.template_id else None, request_token=request_token,
    )
