from datetime import timedelta

from django.core.management.base import CommandError

from accounts.management.base import ProjectCommand
from broadcasts.tasks import broadcast_resume_running


class Command(ProjectCommand):
    help = (
        "After a worker restart: mark recipients left 'sending' by a dead worker as failed (never resent) and "
        "enqueue delivery again for every running broadcast. Safe while workers run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale-after", type=int, default=None, metavar="SECONDS",
            help="Count a 'sending' row as interrupted after this many seconds "
                 "(default BROADCAST_STALE_SENDING_SECONDS). Use 0 only when no worker is running.")

    def handle(self, *args, stale_after, **options):
        if stale_after is not None and stale_after < 0:
            raise CommandError("--stale-after must not be negative.")
        older_than = None if stale_after is None else timedelta(seconds=stale_after)
        ids = broadcast_resume_running(older_than=older_than)
        self.stdout.write(f"Resumed {len(ids)} running broadcast(s){': ' + ', '.join(map(str, ids)) if ids else ''}.")
