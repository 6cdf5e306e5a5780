"""Issue 11: a failed generation (and an avatar's training) links to its task in the admin."""

import re

import pytest
from django.urls import reverse

from common.task_admin import task_result_url
from generations import tasks
from generations.models import Avatar, AvatarStatus, GenerationStatus, ImageGeneration

pytestmark = pytest.mark.django_db

DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def test_a_failed_generation_links_to_its_task_result(admin_client, make_user, settings):
    settings.TASKS = DB_BACKEND
    generation = ImageGeneration.objects.create(user=make_user(), original_prompt="p", final_prompt="p",
                                                status=GenerationStatus.FAILED, error_message="timeout")
    other = ImageGeneration.objects.create(user=generation.user, original_prompt="q", final_prompt="q")
    tasks.poll_generation.enqueue(str(other.pk))
    result = tasks.deliver_generation.enqueue(str(generation.pk))
    page = admin_client.get(reverse("admin:generations_imagegeneration_change", args=[generation.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="{task_result_url(result.id)}"' in html and "deliver_generation" in html
    assert "poll_generation" not in html


def test_an_avatar_links_to_its_training_task_and_shows_a_dash_without_one(admin_client, make_user, settings):
    settings.TASKS = DB_BACKEND
    avatar = Avatar.objects.create(user=make_user(), name="Аня", gender="female", status=AvatarStatus.ERROR)
    url = reverse("admin:generations_avatar_change", args=[avatar.pk])
    assert not re.search(r"dbtaskresult/[0-9a-f-]{36}/change/", admin_client.get(url).content.decode())
    result = tasks.submit_avatar_training.enqueue(str(avatar.pk))
    assert f'href="{task_result_url(result.id)}"' in admin_client.get(url).content.decode()
