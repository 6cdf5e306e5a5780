from decimal import Decimal


class BillingError(Exception):
    """Base of the billing app's domain errors."""


class InvalidAmount(BillingError, ValueError):
    pass


class InsufficientFunds(BillingError):
    def __init__(self, *, balance: Decimal, required: Decimal):
        self.balance = balance
        self.required = required
        super().__init__(f"Insufficient funds: balance {balance}, required {required}.")


class IdempotencyConflict(BillingError):
    """The idempotency key was already used for a different operation."""


class NotRefundable(BillingError):
    pass


class ChargeMismatch(NotRefundable):
    """The charge belongs to another user or was made for something else than the refund names."""
