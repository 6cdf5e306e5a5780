from decimal import Decimal

from django.utils.translation import gettext as _

from billing.formats import money


class BillingError(Exception):
    """Base of the billing app's domain errors."""


class InvalidAmount(BillingError, ValueError):
    pass


class InsufficientFunds(BillingError):
    def __init__(self, *, balance: Decimal, required: Decimal):
        self.balance = balance
        self.required = required
        # In the language active when raised: operators read it in the admin.
        super().__init__(_("Insufficient funds: the balance is %(balance)s, %(required)s needed.")
                         % {"balance": money(balance), "required": money(required)})


class IdempotencyConflict(BillingError):
    """The idempotency key was already used for a different operation."""


class NotRefundable(BillingError):
    pass


class ChargeMismatch(NotRefundable):
    """The charge belongs to another user or was made for something else than the refund names."""


class LedgerEntryImmutable(BillingError):
    """Ledger entries are never deleted: a mistake is corrected by a reversal (a new entry)."""

    def __init__(self):
        super().__init__(_("Ledger entries cannot be deleted; reverse an entry with a new one instead."))
