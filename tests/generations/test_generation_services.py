"""Generation services beyond the bot: validation, malformed output, the catalogue seed, gallery reads."""

from decimal import Decimal

import pytest

from billing.exceptions import InsufficientFunds
from billing.selectors import balance_get
from generations import selectors, services
from generations.exceptions import InvalidInput, NotFound
from generations.models import GenerationStatus, ImageGeneration, StyleCategory, StyleTemplate


@pytest.mark.django_db
def test_the_style_catalogue_is_seeded_with_prompts_using_the_trigger_token():
    assert set(StyleCategory.objects.values_list("pk", flat=True)) >= {"business", "celebration", "urban", "creative"}
    subcategories = {t.subcategory_id for t in StyleTemplate.objects.all()}
    assert subcategories >= {"office", "dresscode", "new_year", "birthday", "street", "cafe", "art", "music"}
    assert all("TOK" in t.prompt for t in StyleTemplate.objects.filter(subcategory_id__in=subcategories))


@pytest.mark.django_db(transaction=True)
def test_invalid_requests_are_refused_before_charging(funded_user, ready_avatar, fake_fal):
    user = funded_user("100")
    avatar = ready_avatar(user)
    for kwargs in ({"aspect_ratio": "2:1", "num_images": 1, "prompt": "на пляже"},
                   {"aspect_ratio": "1:1", "num_images": 5, "prompt": "на пляже"},
                   {"aspect_ratio": "1:1", "num_images": 1, "prompt": "а"}):
        with pytest.raises(InvalidInput):
            services.generation_create(user=user, avatar_id=avatar.pk, **kwargs)
    with pytest.raises(NotFound):
        services.generation_create(user=funded_user(), avatar_id=avatar.pk, aspect_ratio="1:1", num_images=1,
                                   prompt="чужой аватар")
    poor = funded_user("4")
    with pytest.raises(InsufficientFunds):
        services.generation_create(user=poor, avatar_id=ready_avatar(poor).pk, aspect_ratio="1:1", num_images=1,
                                   prompt="на пляже")
    assert balance_get(user=user) == Decimal("100") and not ImageGeneration.objects.exists()
    assert not fake_fal.submitted()


@pytest.mark.django_db(transaction=True)
def test_output_without_images_is_a_refunded_failure(funded_user, ready_avatar, fake_fal, bot_api):
    user = funded_user("100")
    fake_fal.script(outcome="malformed", queued=0, running=0)
    generation = services.generation_create(user=user, avatar_id=ready_avatar(user).pk, aspect_ratio="9:16",
                                            num_images=3, prompt="в лесу")
    assert balance_get(user=user) == Decimal("85")
    services.generation_poll(generation_id=generation.pk)
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED and balance_get(user=user) == Decimal("100")
    assert fake_fal.jobs[generation.provider_request_id].arguments["image_size"] == "portrait_16_9"


@pytest.mark.django_db(transaction=True)
def test_the_gallery_is_newest_first_and_hides_deleted_and_others_images(funded_user, ready_avatar, media):
    user, other = funded_user(), funded_user()
    made = [ImageGeneration.objects.create(user=user, original_prompt=f"p{n}", final_prompt="x",
                                           status=GenerationStatus.COMPLETED) for n in range(3)]
    ImageGeneration.objects.create(user=other, original_prompt="other", final_prompt="x",
                                   status=GenerationStatus.COMPLETED)
    first, total = selectors.gallery_page(user=user, index=0)
    assert total == 3 and first == made[-1]
    services.generation_delete(user=user, generation_id=made[-1].pk)
    with pytest.raises(NotFound):
        services.generation_toggle_favorite(user=other, generation_id=made[0].pk)
    assert selectors.gallery_page(user=user, index=0) == (made[1], 2)
    assert services.generation_toggle_favorite(user=user, generation_id=made[0].pk).is_favorite
