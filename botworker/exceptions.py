"""botworker's own errors. Imports nothing heavy (no aiogram), so ``runbot`` can name them before it loads the bot."""


class BotworkerError(Exception):
    """Base of botworker's own errors."""


class PollerAlreadyRunning(BotworkerError):
    """Another process holds the single-poller lock of this bot (``botworker.poller_lock``)."""


class WebhookIsSet(BotworkerError):
    """Polling would take the updates of the webhook set at ``url``."""

    def __init__(self, url: str):
        super().__init__(url)
        self.url = url


class PollingRefused(BotworkerError):
    """The polling worker cannot start; the message tells the operator why and what to do."""


class PollerLockLost(BotworkerError):
    """Polling stopped: the single-poller lock was lost and another process holds it now."""
