"""Enqueue the periodic tasks (sweeps, reconciliation, pruning) once; run it from a timer every few minutes.

    python manage.py enqueue_periodic            # what deploy/aisha-periodic.timer runs
    python manage.py enqueue_periodic --list

A task already waiting in the queue is not enqueued again, so a timer firing while the workers are busy does not
pile up copies.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from botworker.periodic import PERIODIC_TASKS


def _already_queued(task) -> bool:
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    if not isinstance(task.get_backend(), DatabaseBackend):
        return False
    return DBTaskResult.objects.ready().filter(task_path=task.module_path).exists()


class Command(BaseCommand):
    help = "Enqueue the periodic tasks (stuck-job sweeps, reconciliation, pruning); run it from a timer."

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="Only list the periodic tasks.")

    def handle(self, *args, list: bool = False, **options):
        for path in PERIODIC_TASKS:
            try:
                task = import_string(path)
            except ImportError as exc:
                raise CommandError(f"periodic task {path} cannot be imported: {exc}") from exc
            if list:
                self.stdout.write(path)
            elif _already_queued(task):
                self.stdout.write(f"{path}: already queued")
            else:
                result = task.enqueue()
                self.stdout.write(f"{path}: enqueued {result.id}")
