"""``manage.py runbot``: the bot worker, long polling. Checks its options and the token's shape, then hands off
to ``botworker.runner``."""

import re

from django.conf import settings
from django.core.management.base import CommandError

from accounts.management.base import ProjectCommand
from botworker.exceptions import PollerLockLost, PollingRefused

# "<bot id>:<secret>", as @BotFather gives it (the shape aiogram's validate_token accepts).
TOKEN_SHAPE = re.compile(r"^\d+:\S+$")


class Command(ProjectCommand):
    help = (
        "Run the Telegram bot with long polling (BOT_TOKEN, BOT_API_URL). Stops gracefully on SIGINT/SIGTERM. "
        "Refuses to start while a webhook is set or another runbot polls the same bot."
    )

    def add_arguments(self, parser):
        parser.add_argument("--polling-timeout", type=int, default=30, help="Long-polling wait, seconds.")
        parser.add_argument("--lock-check-interval", type=float, default=20,
                            help="Seconds between checks that this worker still holds the single-poller lock.")

    def handle(self, *args, polling_timeout: int, lock_check_interval: float, **options):
        token = settings.BOT_TOKEN
        if not token:
            raise CommandError("BOT_TOKEN is not set: put the token from @BotFather in the environment or .env.")
        if not TOKEN_SHAPE.match(token):
            raise CommandError("BOT_TOKEN is malformed: expected '<digits>:<secret>' as given by @BotFather.")
        # aiogram takes seconds to import: imported here, so that a configuration error is reported at once.
        from botworker.runner import run_polling

        try:
            run_polling(token, polling_timeout=polling_timeout, lock_check_interval=lock_check_interval,
                        say=self.stdout.write)
        except PollingRefused as refused:
            raise CommandError(str(refused)) from None
        except PollerLockLost as lost:
            raise CommandError(str(lost)) from None
        self.stdout.write("Bot stopped.")
