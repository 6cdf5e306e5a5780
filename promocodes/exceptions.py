class PromoCodeError(Exception):
    """Base of the promo code app's domain errors."""


class PromoCodeInvalid(PromoCodeError):
    """Bad terms when creating a code (operator input)."""


class PromoCodeNotFound(PromoCodeError):
    """No such code, or an operator switched it off."""


class PromoCodeNotStarted(PromoCodeError):
    def __init__(self, *, valid_from):
        self.valid_from = valid_from
        super().__init__(f"The code is valid from {valid_from}.")


class PromoCodeExpired(PromoCodeError):
    pass


class PromoCodeExhausted(PromoCodeError):
    """Every use of the code is taken."""


class PromoCodeAlreadyUsed(PromoCodeError):
    """This user reached the code's uses per user."""


class PurchaseError(PromoCodeError):
    """A Stars top-up that must not go through (pre-checkout) or cannot be matched to an offer."""


class InvoiceInvalid(PurchaseError):
    """The invoice payload is not one this bot made."""


class InvoiceNotYours(PurchaseError):
    """The invoice was made for another user (a forwarded invoice)."""


class PackageUnavailable(PurchaseError):
    pass


class PriceChanged(PurchaseError):
    """The package or the discount behind the invoice changed since it was sent."""


class PayerBlocked(PurchaseError):
    pass


class DiscountReserved(PriceChanged):
    """The invoice's discount is held by another invoice of the same user that is being paid right now."""


class PaymentFlagged(PurchaseError):
    """A completed payment that does not match its invoice: nothing was credited, an operator looks into it."""

    def __init__(self, reason: str, *, first: bool):
        self.reason, self.first = reason, first  # ``first``: this delivery flagged it (a re-delivery does not)
        super().__init__(f"Payment not credited, flagged for an operator: {reason}.")
