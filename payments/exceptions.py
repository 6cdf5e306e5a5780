class PaymentError(Exception):
    """Base of the payments app's domain errors."""


class PackageUnavailable(PaymentError):
    """No active top-up package of that id: switched off or deleted since it was offered."""


class InvoiceInvalid(PaymentError):
    """The invoice payload is not one this bot made."""


class InvoiceNotYours(PaymentError):
    """The invoice was made for another user (a forwarded invoice)."""


class PriceChanged(PaymentError):
    """The package or the discount behind the invoice changed since it was sent."""


class DiscountReserved(PriceChanged):
    """The invoice's discount is held by another invoice of the same user that is being paid right now."""


class PayerBlocked(PaymentError):
    pass


class PaymentFlagged(PaymentError):
    """A completed payment that does not match its invoice: nothing was credited, an operator looks into it."""

    def __init__(self, reason: str, *, first: bool):
        self.reason, self.first = reason, first  # ``first``: this delivery flagged it (a re-delivery does not)
        super().__init__(f"Payment not credited, flagged for an operator: {reason}.")


class NotAStarsPayment(PaymentError):
    """A refund was asked for a ledger entry that is not a Telegram Stars payment."""


class StarsAPIError(PaymentError):
    """The Bot API refused a Stars call or could not be reached."""

    def __init__(self, description: str, *, error_code: int | None = None):
        self.description, self.error_code = description, error_code
        super().__init__(f"Bot API error{f' {error_code}' if error_code else ''}: {description}")


class RefundUnconfirmed(StarsAPIError):
    """Telegram could not be asked or gave no usable answer (unreachable, 429, 5xx): it may have refunded. The coins
    stay taken back and the entry pending; asking again settles it."""


class RefundNotReversed(PaymentError):
    """Telegram refunded the payment but the coins were already spent: the entry is flagged for the operator."""
