"""Broadcast errors. The operator's actions raise ``BroadcastError`` subclasses, shown to the operator as they are;
the sender raises ``TelegramConfigError`` when there is no bot to send with."""


class BroadcastError(Exception):
    """Base of the broadcast errors (shown to the operator as they are, in the language active when raised)."""


class BroadcastInvalid(BroadcastError):
    pass


class BroadcastStateError(BroadcastError):
    """The action does not fit the broadcast's current status."""


class BroadcastAlreadyRunning(BroadcastError):
    pass


class BroadcastBotUnavailable(BroadcastError):
    """No bot to deliver with: ``BOT_TOKEN`` is not set, or Telegram does not answer ``getMe`` with it."""


class TelegramConfigError(Exception):
    """No bot to send with: ``BOT_TOKEN`` is not set, or (``get_me_error``) Telegram does not answer ``getMe``."""

    def __init__(self, message: str, *, get_me_error: str = ""):
        super().__init__(message)
        self.get_me_error = get_me_error


class ContentUnavailable(Exception):
    """The message cannot be put together (raised before anything is sent)."""
