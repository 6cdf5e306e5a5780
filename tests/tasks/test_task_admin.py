"""The admin shows background task results, and a failed job's page can link to the task that failed."""

import uuid

import pytest
from django.test import override_settings
from django.utils import translation
from django_tasks_db.models import DBTaskResult

from common.task_admin import task_result_link, task_result_url, task_results_with_arg, task_results_with_kwarg
from tests.support.workers import DB_BACKEND
from tests.tasks import jobs

pytestmark = pytest.mark.django_db

@pytest.fixture
def failed_result():
    with override_settings(TASKS=DB_BACKEND):
        generation_id = str(uuid.uuid4())
        jobs.finish_slowly.enqueue(recipient_id=1)  # an unrelated task
        result = jobs.finish_slowly.enqueue(generation_id)
    row = DBTaskResult.objects.get(id=result.id)
    try:
        raise RuntimeError("provider said no")
    except RuntimeError as error:
        row.set_failed(error)
    return generation_id, row

def test_the_admin_lists_task_results_and_shows_a_failure_with_its_traceback(admin_client, failed_result):
    _, row = failed_result
    listing = admin_client.get("/admin/django_tasks_database/dbtaskresult/?status=FAILED")
    assert listing.status_code == 200 and "finish_slowly" in listing.content.decode()
    page = admin_client.get(task_result_url(row.pk))
    assert page.status_code == 200
    assert "provider said no" in page.content.decode()

def test_a_job_finds_its_failed_task_by_argument_and_links_to_it(failed_result):
    generation_id, row = failed_result
    found = task_results_with_arg(task_prefix="tests.tasks.jobs.", value=generation_id).first()
    assert found == row
    with translation.override("en"):
        assert task_result_url(row.pk) in task_result_link(found) and "Failed" in task_result_link(found)
    with translation.override("ru"):
        assert "Ошибка" in task_result_link(found)  # the task's status in the operator's language
    assert task_results_with_kwarg(task_prefix="tests.tasks.jobs.", name="recipient_id", value=1).count() == 1
    assert task_result_link(None) == "-"
