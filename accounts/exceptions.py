class AccountsError(Exception):
    """Base of the accounts app's domain errors."""


class UserNotFound(AccountsError):
    pass


class UserBlocked(AccountsError):
    pass


class LegacyDatabaseNotAdopted(AccountsError):
    """DATABASE_URL points at a database of the earlier service that `adopt_legacy_db` has not adopted yet."""


class BotNotConfigured(AccountsError):
    """No BOT_TOKEN: nothing can be sent to a user."""


class MessageNotDelivered(AccountsError):
    """Telegram did not take an operator's message (or could not be reached)."""
