"""Image generation: the charge, the generator models (FLUX with the user's avatar, Imagen 4 by description) and
the generation job kind.

The job itself (submit, poll, complete, fail-and-refund-once) is ``generations.services.jobs``; one job kind serves
every generator model, so Imagen 4 shares the tasks, the sweep and the delivery of avatar generations.
Money: charged once per attempt (the charge key names the attempt) before submitting, refunded at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import ledger_texts
from billing import selectors as billing_selectors
from billing import services as billing_services
from billing.ledger_texts import describe
from billing.models import TransactionType
from generations import fal, photos
from generations.exceptions import InvalidState, PhotoRejected, ProviderError
from generations.models import FailureReason, GenerationStatus, ImageGeneration
import generations.services.jobs as jobs
from generations.services.common import owned_generation
from promocodes import services as promo_services

IN_FLIGHT = (GenerationStatus.PENDING, GenerationStatus.PROCESSING)


@dataclass(frozen=True)
class GeneratorModel:
    """A FAL text-to-image model a generation runs on."""

    endpoint: str
    generation_type: str
    label: str  # shown in the gallery
    price: Callable[[], Decimal]  # of one image
    arguments: Callable[[ImageGeneration], dict]
    needs_avatar: bool


def _lora_arguments(generation: ImageGeneration) -> dict:
    return {
        "prompt": generation.final_prompt,
        "loras": [{"path": generation.avatar.diffusers_lora_file_url, "scale": fal.LORA_SCALE}],
        "image_size": fal.IMAGE_SIZES.get(generation.aspect_ratio or "1:1", "square_hd"),
        "num_images": generation.num_images or 1,
        "num_inference_steps": 28, "guidance_scale": 3.5, "enable_safety_checker": True, "output_format": "jpeg",
    }


def _imagen4_arguments(generation: ImageGeneration) -> dict:
    return {"prompt": generation.final_prompt, "aspect_ratio": generation.aspect_ratio or "1:1",
            "num_images": generation.num_images or 1}


LORA = GeneratorModel(endpoint=fal.LORA_GENERATOR, generation_type="avatar", label="FLUX",
                      price=lambda: settings.IMAGE_GENERATION_COST, arguments=_lora_arguments, needs_avatar=True)
IMAGEN4 = GeneratorModel(endpoint=fal.IMAGEN4_GENERATOR, generation_type="imagen4", label="Imagen 4",
                         price=lambda: settings.IMAGEN4_GENERATION_COST, arguments=_imagen4_arguments,
                         needs_avatar=False)
GENERATOR_MODELS = {model.endpoint: model for model in (LORA, IMAGEN4)}


def generator_model(generation: ImageGeneration) -> GeneratorModel:
    """The model of a generation (a legacy row without an endpoint ran on FLUX with an avatar)."""
    return GENERATOR_MODELS.get(generation.provider_endpoint or generation.source_model or "", LORA)


def generation_model_label(*, generation: ImageGeneration) -> str:
    """The name of the model a generation ran on, as the gallery and the admin show it ("FLUX", "Imagen 4")."""
    return generator_model(generation).label


def generation_source_label(*, generation: ImageGeneration) -> str:
    """What made the image, as the gallery names it: the avatar, or the model of an avatar-less generation
    ("Imagen 4"); "—" when the avatar was deleted."""
    if generation.avatar_id is not None:
        return generation.avatar.name
    model = generator_model(generation)
    return "—" if model.needs_avatar else model.label


def full_price(generation: ImageGeneration) -> Decimal:
    return generator_model(generation).price() * Decimal(generation.num_images or 1)


def generation_of_token(*, user, request_token: str) -> ImageGeneration | None:
    return ImageGeneration.objects.select_related("charge").filter(
        request_token=request_token, user_id=getattr(user, "pk", user)).first()


def generation_open(*, user_id, model: GeneratorModel, request_token: str | None, **fields) -> ImageGeneration:
    """Create a generation on ``model`` and charge it (a pending promo discount applies), inside the caller's
    transaction. A repeated ``request_token`` returns the generation the first request made, charging nothing."""
    try:
        with transaction.atomic():
            generation = ImageGeneration.objects.create(
                user_id=user_id, generation_type=model.generation_type, source_model=model.endpoint,
                provider_endpoint=model.endpoint, status=GenerationStatus.PENDING,
                request_token=request_token or None, **fields,
            )
    except IntegrityError:
        # The same request committed in the meantime (the unique token): that one was charged.
        existing = generation_of_token(user=user_id, request_token=request_token) if request_token else None
        if existing is None:
            raise
        return existing
    price, discount = promo_services.discount_consume_for_purchase(
        user=user_id, price=full_price(generation), used_for=f"generation:{generation.pk.hex}")
    charge_and_queue(generation, amount=price, extra_data={
        "full_price": str(full_price(generation)), "promokode_usage_id": str(discount.pk),
        "discount_percent": str(discount.promokode.discount_percent)} if discount else None)
    return generation


def charge_and_queue(generation: ImageGeneration, *, amount: Decimal | None = None,
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
            amount = Decimal("0") if generation.attempt else full_price(generation)
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
        provider_endpoint=generator_model(generation).endpoint, error_message=None, failure_reason=None,
        provider_failures=0, last_status_check=now, delivered_at=None, delivery_claimed_at=None,
        deadline=now + timedelta(seconds=settings.FAL_GENERATION_TIMEOUT), result_urls=None, result_files=[],
    )
    generation.refresh_from_db()
    generation.charge = charge  # the bot shows what was charged without another query
    jobs.job_queue(jobs.Next(jobs.Kind.GENERATION, jobs.Step.SUBMIT, str(generation.pk)))


def generation_retry(*, generation: ImageGeneration) -> ImageGeneration:
    """Resubmit a failed generation (an operator's action): a new attempt, charged once (its own key)."""
    with transaction.atomic():
        generation = ImageGeneration.objects.select_for_update().get(pk=generation.pk)
        if generation.status not in (GenerationStatus.FAILED, GenerationStatus.CANCELLED):
            raise InvalidState(_("only a failed generation can be retried"))
        if generator_model(generation).needs_avatar and (
                generation.avatar is None or not generation.avatar.diffusers_lora_file_url):
            raise InvalidState(_("the avatar is gone"))
        charge_and_queue(generation)
    return generation


def generation_refund(*, generation: ImageGeneration, created_by: str):
    """Refund the current charge of a failed generation, once. Returns the refund made now, or None when there is
    no charge or it was refunded before.

    Only the generation's own charge: the entry must name this generation and belong to its user
    (``ChargeMismatch``), checked with the generation row locked.
    """
    with transaction.atomic():
        generation = ImageGeneration.objects.select_for_update().get(pk=generation.pk)
        if generation.status not in (GenerationStatus.FAILED, GenerationStatus.CANCELLED):
            raise InvalidState("only a failed generation is refunded")
        if generation.charge_id is None or billing_selectors.reversal_live(entry=generation.charge_id) is not None:
            return None
        return billing_services.balance_refund(
            entry=generation.charge_id, description=ledger_texts.IMAGE_GENERATION_REFUND, created_by=created_by,
            user=generation.user_id, charged_for={"generation_id": str(generation.pk)},
        )


def _submit_check(generation: ImageGeneration) -> jobs.JobFailed | None:
    if generator_model(generation).needs_avatar and (
            generation.avatar is None or not generation.avatar.diffusers_lora_file_url):
        return jobs.JobFailed("avatar deleted", FailureReason.INTERNAL)
    return None


def _usable_images(output) -> tuple[list[str], int]:
    """The result's image URLs that may be shown, and how many were flagged as NSFW."""
    images = output.get("images") if isinstance(output, dict) else None
    if not isinstance(images, list):
        return [], 0
    flags = output.get("has_nsfw_concepts") or []
    urls, flagged = [], 0
    for index, image in enumerate(images):
        url = image.get("url") if isinstance(image, dict) else None
        if index < len(flags) and flags[index] is True:
            flagged += 1
        elif isinstance(url, str) and url:
            urls.append(url)
    return urls, flagged


def _complete(generation: ImageGeneration, output, provider) -> jobs.Completion:
    """Copy the images into our storage. At most the requested number of images is kept, and each must download
    under the provider's rules and decode as an image. Output without usable images, or a file refused, fails."""
    urls, flagged = _usable_images(output)
    urls = urls[:generation.num_images or 1]
    if not urls:
        raise jobs.JobFailed("no usable images in the result",
                             FailureReason.CONTENT_POLICY if flagged else FailureReason.PROVIDER_ERROR)
    names = []
    try:
        for number, url in enumerate(urls, 1):
            content = provider.download(url)
            extension = photos.result_image_extension(content=content)
            names.append(default_storage.save(f"generations/{generation.pk}/{number}.{extension}",
                                              ContentFile(content)))
    except (ProviderError, PhotoRejected) as exc:
        for name in names:
            default_storage.delete(name)
        if isinstance(exc, ProviderError) and exc.retryable:
            raise
        raise jobs.JobFailed(f"result image {len(names) + 1}: {exc}") from None
    now = timezone.now()
    return jobs.Completion(
        fields={"status": GenerationStatus.COMPLETED, "result_urls": urls, "result_files": names,
                "completed_at": now, "last_status_check": now, "generation_time": None,
                "prompt_metadata": {"seed": output.get("seed")}},
        discard=lambda: [default_storage.delete(name) for name in names],
    )


GENERATION = jobs.JobSpec(
    kind=jobs.Kind.GENERATION, model=ImageGeneration, request_field="provider_request_id",
    endpoint_field="provider_endpoint", deadline_field="deadline", error_field="error_message", error_max=1000,
    in_flight=IN_FLIGHT, submitted_status=GenerationStatus.PROCESSING, failed_status=GenerationStatus.FAILED,
    # Ours only (not legacy rows): charged, or free (a discount) with our deadline.
    ours=Q(charge__isnull=False) | Q(deadline__isnull=False), default_endpoint=fal.LORA_GENERATOR,
    arguments=lambda generation, provider: generator_model(generation).arguments(generation), complete=_complete,
    refund=lambda generation, created_by: generation_refund(generation=generation, created_by=created_by),
    failed_fields=lambda: {"completed_at": timezone.now()}, submit_check=_submit_check,
    select_related=("avatar",),
)


def generation_submit(*, generation_id) -> jobs.Next | None:
    """Submit a charged generation (a task); no-op unless it awaits submission."""
    return jobs.job_submit(GENERATION, job_id=generation_id)


def generation_poll(*, generation_id) -> jobs.Next | None:
    """One status check of a generation (a task); returns the next one while the job runs."""
    return jobs.job_poll(GENERATION, job_id=generation_id)


def generation_complete(*, generation_id, request_id: str, output) -> bool:
    """Store the images and mark the generation completed, once; False when it had already finished."""
    return jobs.job_complete(GENERATION, job_id=generation_id, request_id=request_id, output=output)


def generation_fail(*, generation_id, reason: str, request_id: str | None = None,
                    failure_reason: str = FailureReason.PROVIDER_ERROR) -> bool:
    """Mark a generation failed and refund its charge (once); False when it had already finished."""
    return jobs.job_fail(GENERATION, job_id=generation_id, reason=reason, request_id=request_id,
                         failure_reason=failure_reason)


def generation_toggle_favorite(*, user, generation_id) -> ImageGeneration:
    generation = owned_generation(user=user, generation_id=generation_id)
    generation.is_favorite = not generation.is_favorite
    generation.save(update_fields=["is_favorite"])
    return generation


def generation_delete(*, user, generation_id) -> None:
    """Remove an image from the gallery (the row stays for the ledger's sake)."""
    generation = owned_generation(user=user, generation_id=generation_id)
    ImageGeneration.objects.filter(pk=generation.pk).update(is_saved=False)
