"""Health check of the bot worker's own path: the Bot API answers ``getMe`` and the database answers a query
through the same settings. Exit 0 only when both work; otherwise one line per failure and exit 1 (for Docker's
HEALTHCHECK, systemd, monitoring)."""

import asyncio
import sys

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from accounts.database import database_require_adopted
from accounts.models import User
from botworker.dispatcher import create_bot

TIMEOUT = 10


async def _get_me():
    bot = create_bot()
    try:
        return await bot.get_me(request_timeout=TIMEOUT)
    finally:
        await bot.session.close()


class NotConfigured(Exception):
    """A setting the check needs is empty: said as it is, without an exception's name."""


def check_bot_api() -> str:
    if not settings.BOT_TOKEN:
        raise NotConfigured("BOT_TOKEN is not set")
    me = asyncio.run(_get_me())
    return f"@{me.username}"


def check_database() -> str:
    if connection.vendor == "postgresql":
        # Same database settings as the worker; only a bounded wait, so a dead host fails the check in time.
        connection.settings_dict.setdefault("OPTIONS", {}).setdefault("connect_timeout", TIMEOUT)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    database_require_adopted()  # not a database of the earlier service that still waits for adopt_legacy_db
    User.objects.exists()  # the bot's own tables are there (migrated), not just a server
    return connection.vendor


class Command(BaseCommand):
    help = "Exit 0 when the Bot API answers getMe and the database answers a query; else print what failed, exit 1."

    def handle(self, *args, **options):
        failures = []
        for name, check in (("bot api", check_bot_api), ("database", check_database)):
            try:
                detail = check()
            except NotConfigured as error:
                failures.append(f"FAIL {name}: {error}")
            except Exception as error:  # any failure is a failed check; say which and why, in one line
                message = " ".join(str(error).split()) or type(error).__name__
                failures.append(f"FAIL {name}: {type(error).__name__}: {message}"[:500])
            else:
                self.stdout.write(f"OK {name}: {detail}")
        for line in failures:
            self.stderr.write(line)
        if failures:
            sys.exit(1)
