class AccountsError(Exception):
    """Base of the accounts app's domain errors."""


class UserNotFound(AccountsError):
    pass


class UserBlocked(AccountsError):
    pass
