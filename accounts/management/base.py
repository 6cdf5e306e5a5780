from django.core.management.base import BaseCommand, CommandError

from accounts.database import database_require_adopted
from accounts.exceptions import LegacyDatabaseNotAdopted


class ProjectCommand(BaseCommand):
    """A command that uses this project's tables. On a database of the earlier service that is not adopted yet it
    stops before doing anything, with one line saying so (``CommandError``: exit status 1, no traceback)."""

    def execute(self, *args, **options):
        try:
            database_require_adopted()
        except LegacyDatabaseNotAdopted as error:
            raise CommandError(str(error)) from None
        return super().execute(*args, **options)
