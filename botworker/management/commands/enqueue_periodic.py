"""Enqueue the periodic tasks (sweeps, reconciliation, pruning); run it from a timer every few minutes.

    python manage.py enqueue_periodic            # what deploy/aisha-periodic.timer runs
    python manage.py enqueue_periodic --list

A task is skipped while one of it waits in the queue (a timer firing while the workers are busy does not pile up
copies) or when one was enqueued within its interval (hourly tasks on a 5-minute timer).
"""

from datetime import timedelta

from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.management.base import ProjectCommand
from botworker.periodic import PERIODIC_TASKS


def _skip_reason(task, interval: timedelta) -> str:
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if not isinstance(task.get_backend(), DatabaseBackend):
        return ""
    results = DBTaskResult.objects.filter(task_path=task.module_path)
    if results.ready().exists():
        return "already queued"
    if interval and results.filter(enqueued_at__gte=timezone.now() - interval).exists():
        return f"enqueued less than {interval} ago"
    return ""


class Command(ProjectCommand):
    help = "Enqueue the periodic tasks (stuck-job sweeps, reconciliation, pruning); run it from a timer."

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="Only list the periodic tasks.")

    def handle(self, *args, list: bool = False, **options):
        for path, interval in PERIODIC_TASKS:
            try:
                task = import_string(path)
            except ImportError as exc:
                raise CommandError(f"periodic task {path} cannot be imported: {exc}") from exc
            if list:
                self.stdout.write(f"{path} (at most every {interval})" if interval else path)
            elif reason := _skip_reason(task, interval):
                self.stdout.write(f"{path}: {reason}")
            else:
                self.stdout.write(f"{path}: enqueued {task.enqueue().id}")
