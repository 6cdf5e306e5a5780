class AccountsError(Exception):
    """Base of the accounts app's domain errors."""


class UserNotFound(AccountsError):
    pass


class UserBlocked(AccountsError):
    pass


class LegacyDatabaseNotAdopted(AccountsError):
    """DATABASE_URL points at a database of the earlier service that `adopt_legacy_db` has not adopted yet."""
